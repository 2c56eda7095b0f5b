import asyncio
import time
from pathlib import Path

import pytest
from proctorbot.notifications.blocked import handle_blocked_chat
from proctorbot.notifications.dispatcher import OutboxDispatcher
from proctorbot.notifications.outbox import Attachment, enqueue
from proctorbot.notifications.pacing import Pacing
from proctorbot.notifications.tables import OutboxMessage, OutboxStatus, TelegramChat
from proctorbot.notifications.telegram_client import TelegramSetupError, check_bot, make_bot
from proctorbot.notifications.telegram_sender import TelegramSender
from proctorbot.storage.models import Organization, Person
from pydantic import SecretStr
from sqlalchemy import select

FAST = Pacing(chat_interval=0.01, per_second=30, retry_base=0.05, retry_max=0.2)


def add_person(
    db, name: str, chat: int | None, email: str | None = None, role: str = "organizer"
) -> Person:
    org = db.scalar(select(Organization)) or Organization(name="Uni")
    db.add(org)
    db.flush()
    person = Person(
        organization_id=org.id,
        role=role,
        full_name=name,
        telegram_chat_id=chat,
        email=email,
        language="en",
        external_id=name,
    )
    db.add(person)
    db.flush()
    return person


async def drain(dispatcher: OutboxDispatcher, db, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await dispatcher.run_once()
        with db() as session:
            left = session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            ).all()
        if not left:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still pending: {[m.text for m in left]}")


@pytest.fixture
async def bot(tg_settings):
    bot = make_bot(tg_settings.telegram)
    await check_bot(bot)
    yield bot
    await bot.shutdown()


async def test_outage_then_every_message_arrives_once_in_order(app_context, fake_api, bot) -> None:
    with app_context.db.begin() as db:
        anna = add_person(db, "Anna", 111)
        boris = add_person(db, "Boris", 222)
        for i in range(5):
            enqueue(db, anna, "test", {})
            enqueue(db, anna, "no_show", {"student": f"S{i}", "title": "Math", "start": "10:00"})
        enqueue(db, boris, "no_show", {"student": "B", "title": "Math", "start": "10:00"})
    fake_api.outage_sends = 6  # Telegram answers 502 for a while
    dispatcher = OutboxDispatcher(
        app_context.db, {"telegram": TelegramSender(bot, max_file_bytes=50 * 2**20)}, FAST
    )
    first = await dispatcher.run_once()
    assert first.sent == 0 and first.retried == 2  # one failure per chat, then it waits
    await drain(dispatcher, app_context.db)
    texts = fake_api.texts(111)
    assert len(texts) == 10 and len(set(texts[1::2])) == 5
    assert [t for t in texts if "has not joined" in t] == [
        f'🚫 S{i} has not joined "Math" (start 10:00).' for i in range(5)
    ]
    assert texts[0] == "Test message from proctorbot."
    assert fake_api.texts(222) == ['🚫 B has not joined "Math" (start 10:00).']
    with app_context.db() as db:
        attempts = db.scalars(select(OutboxMessage.attempts).order_by(OutboxMessage.id)).all()
    assert max(attempts) > 1  # retried, not given up


async def test_429_retry_after_is_honoured(app_context, fake_api, bot) -> None:
    with app_context.db.begin() as db:
        anna = add_person(db, "Anna", 111)
        enqueue(db, anna, "test", {})
    fake_api.retry_after[111] = 1
    dispatcher = OutboxDispatcher(
        app_context.db, {"telegram": TelegramSender(bot, max_file_bytes=2**20)}, FAST
    )
    report = await dispatcher.run_once()
    assert report.retried == 1
    with app_context.db() as db:
        message = db.scalar(select(OutboxMessage))
        assert "retry" in message.last_error.lower()
    await dispatcher.run_once()
    assert fake_api.delivered(111) == []  # too early: retry_after not over yet
    start = time.monotonic()
    await drain(dispatcher, app_context.db)
    assert len(fake_api.delivered(111)) == 1
    assert time.monotonic() - start > 0.5


async def test_per_chat_pacing(app_context, fake_api, bot) -> None:
    with app_context.db.begin() as db:
        anna = add_person(db, "Anna", 111)
        for _ in range(3):
            enqueue(db, anna, "test", {})
    pacing = Pacing(chat_interval=0.3, per_second=30, retry_base=0.05, retry_max=0.2)
    dispatcher = OutboxDispatcher(
        app_context.db, {"telegram": TelegramSender(bot, max_file_bytes=2**20)}, pacing
    )
    await dispatcher.run_once()
    times = [c.at for c in fake_api.delivered(111)]
    assert len(times) == 3
    assert all(b - a >= 0.25 for a, b in zip(times, times[1:], strict=False))


async def test_blocked_chat_is_marked_moved_to_email_and_reported(
    app_context, fake_api, bot
) -> None:
    with app_context.db.begin() as db:
        organizer = add_person(db, "Olga", 333)
        student = add_person(db, "Stan", 444, email="stan@mail.example", role="student")
        enqueue(db, student, "test", {})
        enqueue(db, student, "test", {})
    fake_api.blocked_chats.add(444)
    dispatcher = OutboxDispatcher(
        app_context.db,
        {"telegram": TelegramSender(bot, max_file_bytes=2**20)},
        FAST,
        on_blocked=handle_blocked_chat,
    )
    report = await dispatcher.run_once()
    assert report.blocked == 1
    await dispatcher.run_once()
    with app_context.db() as db:
        assert db.get(TelegramChat, 444).blocked_at is not None
        rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [r.status for r in rows if r.channel == "telegram" and r.address == "444"] == [
            "blocked"
        ] * 2
        assert [r.address for r in rows if r.channel == "email"] == ["stan@mail.example"] * 2
        # a new notification for the student goes by e-mail straight away
        assert enqueue(db, db.get(Person, student.id), "test", {}).channel == "email"
    assert fake_api.texts(333) == [
        "Stan has blocked the bot in Telegram; 2 message(s) could not be delivered there."
    ]
    sends_to_blocked = [c for c in fake_api.calls if c.params.get("chat_id") in ("444", 444)]
    assert len(sends_to_blocked) == 1  # tried once, never again
    assert organizer.id


async def test_photo_and_big_file_becomes_a_link(
    app_context, fake_api, bot, tmp_path: Path
) -> None:
    photo = tmp_path / "evidence.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"0" * 1000)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"0" * 5000)
    with app_context.db.begin() as db:
        anna = add_person(db, "Anna", 111)
        enqueue(db, anna, "test", {}, attachment=Attachment(photo, "photo"))
        enqueue(
            db, anna, "test", {}, attachment=Attachment(clip, "video", link="http://127.0.0.1/clip")
        )
    sender = TelegramSender(bot, max_file_bytes=4000)  # the clip is "over the limit"
    await drain(OutboxDispatcher(app_context.db, {"telegram": sender}, FAST), app_context.db)
    sent = fake_api.delivered(111)
    assert [c.method for c in sent] == ["sendPhoto", "sendMessage"]
    assert sent[0].files["photo"].startswith(b"\xff\xd8\xff")
    assert (
        "http://127.0.0.1/clip" in sent[1].params["text"] and "too large" in sent[1].params["text"]
    )
    assert not any(c.method == "sendVideo" for c in fake_api.calls)


async def test_invalid_token_is_a_clear_error_and_nothing_is_lost(
    app_context, fake_api, tg_settings
) -> None:
    tg_settings.telegram.token = SecretStr("999:wrong")
    bot = make_bot(tg_settings.telegram)
    with pytest.raises(TelegramSetupError, match="rejected the bot token"):
        await check_bot(bot)
    with app_context.db.begin() as db:
        enqueue(db, add_person(db, "Anna", 111), "test", {})
    report = await OutboxDispatcher(
        app_context.db, {"telegram": TelegramSender(bot, max_file_bytes=2**20)}, FAST
    ).run_once()
    assert report.sent == 0 and "token" in report.errors[0]
    with app_context.db() as db:
        assert db.scalar(select(OutboxMessage.status)) == "pending"
    tg_settings.telegram.token = SecretStr("")
    with pytest.raises(TelegramSetupError, match="no Telegram bot token"):
        make_bot(tg_settings.telegram)
