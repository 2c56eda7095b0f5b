"""The Notifier as `proctorbot serve` runs it: real python-telegram-bot, fake Bot API, SMTP sink."""

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications import events
from proctorbot.notifications.invites import create_invite
from proctorbot.notifications.outbox import Attachment
from proctorbot.notifications.service import Notifier
from proctorbot.notifications.tables import OutboxMessage, TelegramChat
from proctorbot.storage.db import utcnow
from proctorbot.storage.models import ExamSession, Organization, Person, SessionMember
from pydantic import SecretStr
from sqlalchemy import select

from proctorbot.app import telegram_commands


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            from email import message_from_bytes, policy

            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free loopback port (the controller self-tests it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    yield sink
    controller.stop()


@pytest.fixture
def people(app_context):
    with app_context.db.begin() as db:
        org = Organization(name="Uni")
        db.add(org)
        db.flush()
        olga = Person(
            organization_id=org.id,
            role="organizer",
            full_name="Olga Org",
            language="en",
            external_id="o1",
        )
        eva = Person(
            organization_id=org.id,
            role="examiner",
            full_name="Eva Examiner",
            language="ru",
            external_id="e1",
        )
        stan = Person(
            organization_id=org.id,
            role="student",
            full_name="Stan Student",
            language="en",
            external_id="s1",
            email="stan@mail.example",
        )
        db.add_all([olga, eva, stan])
        db.flush()
        start = utcnow()  # today, whatever the hour
        session = ExamSession(
            organization_id=org.id,
            title="Math oral",
            profile="none",
            language="en",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            status="live",
        )
        session.members = [
            SessionMember(person_id=stan.id, role="student"),
            SessionMember(person_id=eva.id, role="examiner"),
        ]
        db.add(session)
        db.flush()
        codes = {"olga": create_invite(db, olga), "eva": create_invite(db, eva)}
        return {"session": session.id, "codes": codes, "olga": olga.id, "stan": stan.id}


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_invite_commands_and_notifications(
    app_context, tg_settings, fake_api, smtp_sink, people, tmp_path: Path
) -> None:
    tg_settings.smtp.host = "127.0.0.1"
    tg_settings.smtp.port = smtp_sink.port
    tg_settings.telegram.outbox_poll_seconds = 0.1
    tg_settings.telegram.chat_interval_seconds = 0.05
    notifier = Notifier(app_context, commands=telegram_commands(app_context))
    await notifier.start()
    try:
        assert notifier.telegram_error is None
        assert any(c.method == "getMe" for c in fake_api.calls)
        fake_api.push_command(501, "/start " + people["codes"]["olga"])
        fake_api.push_command(502, "/start " + people["codes"]["eva"])
        fake_api.push_command(503, "/start " + people["codes"]["olga"])  # used already
        fake_api.push_command(504, "/today")  # not linked
        await until(lambda: len(fake_api.delivered()) >= 4)
        assert fake_api.texts(501) == [
            "Hello, Olga Org! This chat now receives proctorbot notifications (organizer)."
        ]
        assert fake_api.texts(502)[0].startswith("Здравствуйте, Eva Examiner!")
        assert (
            "already used" in fake_api.texts(503)[0] or "уже использован" in fake_api.texts(503)[0]
        )
        assert "not linked" in fake_api.texts(504)[0] or "не привязан" in fake_api.texts(504)[0]

        from proctorbot.checklist.plan import ChecklistPlan
        from proctorbot.checklist.records import ChecklistRun

        run = ChecklistRun(
            people["session"],
            "x",
            "Stan Student",
            "en",
            steps=ChecklistPlan.default().new_records(),
        )
        folder = tg_settings.recordings_dir / people["session"]
        folder.mkdir(parents=True)
        (folder / "checklist.json").write_text(json.dumps(run.to_json()))
        first_step = Catalogue.load("en").text(f"checklist.step.{run.current.kind}.title")
        fake_api.push_command(501, "/today")
        fake_api.push_command(501, "/status")
        fake_api.push_command(501, f"/report {people['session']}")
        fake_api.push_command(501, "/report nosuch")
        await until(lambda: len(fake_api.texts(501)) >= 5)
        today, status, report, unknown = fake_api.texts(501)[1:5]
        # statuses and steps in words, never their codes
        assert "Math oral" in today and "exam running" in today and "live" not in today
        assert status == f"Math oral: exam running; checklist step: {first_step}"
        assert report.startswith('Report for "Math oral": http://127.0.0.1:8080/')
        from proctorbot.report.links import PURPOSE

        token = report.split("/d/", 1)[1].split("/", 1)[0]
        claims = app_context.signer.verify(token, purpose=PURPOSE, session_id=people["session"])
        assert claims.person_id == people["olga"]
        assert unknown == "No session nosuch that you can see."

        # notifications: examiner by Telegram, organizer by Telegram, student by e-mail
        photo = tmp_path / "snap.jpg"
        photo.write_bytes(b"\xff\xd8\xff" + b"1" * 500)
        with app_context.db.begin() as db:
            assert (
                events.live_alert(
                    db,
                    people["session"],
                    "third_party_voice",
                    125.0,
                    details="score 0.91",
                    evidence=Attachment(photo, "photo"),
                    gross=True,
                )
                == 2
            )
            events.session_finished(
                db,
                people["session"],
                summary="Trust 80/100",
                report_url="http://127.0.0.1:8080/r/1",
            )
            events.identity_checked(db, people["session"], confirmed=False, details="face mismatch")
        await until(lambda: any(c.method == "sendPhoto" for c in fake_api.delivered(502)))
        await until(lambda: len(fake_api.texts(501)) >= 8)
        photo_call = next(c for c in fake_api.delivered(502) if c.method == "sendPhoto")
        assert "посторонний голос" in photo_call.params["caption"]
        assert any("Report: http://127.0.0.1:8080/r/1" in t for t in fake_api.texts(501))
        assert any("Identity NOT confirmed: Stan Student" in t for t in fake_api.texts(501))

        fake_api.push_command(502, "/mute")
        await until(lambda: any("отключены" in t for t in fake_api.texts(502)))
        with app_context.db.begin() as db:
            assert db.get(TelegramChat, 502).muted
            events.live_alert(db, people["session"], "extra_person", 10.0)
        with app_context.db() as db:
            statuses = db.scalars(
                select(OutboxMessage.status).where(OutboxMessage.address == "502")
            ).all()
        assert statuses[-1] == "muted"

        # the student has no chat: reminders go by e-mail
        from proctorbot.notifications.outbox import enqueue

        with app_context.db.begin() as db:
            stan = db.get(Person, people["stan"])
            enqueue(
                db,
                stan,
                "scheduling.reminder_soon",
                {
                    "title": "Math oral",
                    "time": "10:00",
                    "timezone": "Europe/Moscow",
                    "link": "http://127.0.0.1:8080/call?t=x",
                },
            )
        await until(lambda: len(smtp_sink.messages) == 1)
        mail = smtp_sink.messages[0]
        assert mail["To"] == "stan@mail.example" and mail["Subject"] == "proctorbot: Math oral"
        assert "http://127.0.0.1:8080/call?t=x" in mail.get_content()
    finally:
        await notifier.stop()


async def test_invalid_token_keeps_server_up_and_queue_intact(
    app_context, tg_settings, fake_api, people
) -> None:
    tg_settings.telegram.token = SecretStr("1:invalid")
    tg_settings.telegram.outbox_poll_seconds = 0.05
    with app_context.db.begin() as db:
        olga = db.get(Person, people["olga"])
        olga.telegram_chat_id = 777
        events.session_started(db, people["session"])
    notifier = Notifier(app_context)
    await notifier.start()
    try:
        assert "rejected the bot token" in notifier.telegram_error
        await asyncio.sleep(0.3)
    finally:
        await notifier.stop()
    with app_context.db() as db:
        assert db.scalars(select(OutboxMessage.status)).all() == ["pending"]
