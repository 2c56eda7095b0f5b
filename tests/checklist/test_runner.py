"""The runner over a fake SessionBot: panel clicks, automatic checks, drop-outs, restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from proctorbot.checklist.detectors import ChecklistDetectors
from proctorbot.checklist.plan import ChecklistPlan, StepPlan
from proctorbot.checklist.records import ExamMode, RunOutcome, StepKind, StepStatus
from proctorbot.checklist.runner import ChecklistRunner
from proctorbot.checklist.store import ChecklistStore
from proctorbot.checklist.tables import ChecklistTransitionRow
from sqlalchemy import select

from tests.checklist.fakes import (
    FakeIdReader,
    FakeNotifier,
    FakePeer,
    FakeRoomScan,
    FakeSessionBot,
    FakeTranscriber,
    FakeVoiceEnroller,
)

NAME = "Иванов Иван Петрович"
CAPTURE = {k: 0.3 for k in StepKind}


def plan(*kinds: StepKind, limit: float = 20.0, attempts: int = 2, **options) -> ChecklistPlan:
    # every step but the phone's and the screen's (each waits for a second device; their
    # own tests add one)
    waits = (StepKind.PHONE_CAMERA, StepKind.SCREEN_SHARE)
    kinds = kinds or tuple(k for k in StepKind if k not in waits)
    steps = tuple(
        StepPlan(k, limit, attempts, requires_confirmation=k is StepKind.DESK) for k in kinds
    )
    return ChecklistPlan(steps=steps, capture_seconds=CAPTURE, **options)


def detectors(**overrides) -> ChecklistDetectors:
    base = {
        "room_scan": FakeRoomScan(),
        "id_reader": FakeIdReader("ИВАНОВ ИВАН ПЕТРОВИЧ"),
        "transcriber": FakeTranscriber("Иванов Иван Петрович"),
        "voice_enroller": FakeVoiceEnroller(),
    }
    return ChecklistDetectors(**{**base, **overrides})


@pytest.fixture
def bot(tmp_path) -> FakeSessionBot:
    bot = FakeSessionBot(session_dir=tmp_path / "recordings" / "s")
    bot.peers["stu"] = FakePeer("student", NAME, "p-stu")
    bot.peers["ex1"] = FakePeer("examiner", "Петрова А. А.", "p-ex1")
    bot.peers["ex2"] = FakePeer("examiner", "Сидоров Б. Б.", "p-ex2")
    bot.peers["exp"] = FakePeer("expert", "Эксперт", "p-exp")
    return bot


@pytest.fixture
def start(app_context, exam_session_id, bot):
    tasks: list[asyncio.Task] = []

    def _start(the_plan: ChecklistPlan, **kwargs) -> ChecklistRunner:
        runner = ChecklistRunner(
            bot,
            session_id=exam_session_id,
            plan=the_plan,
            store=ChecklistStore(app_context.db, bot.session_dir),
            student_name=NAME,
            language="ru",
            profile_name="test",
            **kwargs,
        )
        tasks.append(asyncio.create_task(runner.run()))
        return runner

    yield _start
    for task in tasks:
        task.cancel()


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def current(runner: ChecklistRunner) -> tuple[str | None, str | None]:
    step = runner.run_state.current
    return (str(step.kind), str(step.status)) if step else (None, None)


async def test_full_walk_with_automatic_checks(start, bot, app_context, exam_session_id) -> None:
    runner = start(plan(), detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await until(
        lambda: any(m["to"] == "stu" and m["data"].get("buttons") == "consent" for m in bot.panels)
    )
    assert "evidence_url" not in bot.last_state("stu")
    await bot.click("stu", "consent", step="consent", given=True)
    await until(
        lambda: current(runner) == ("desk", "running") and runner.run_state.step(StepKind.DESK).auto
    )
    assert runner.run_state.step(StepKind.DESK).auto.available is False  # no desk detector
    await bot.click("ex1", "confirm", step="desk")
    await until(lambda: current(runner) == ("instruction", "running"))
    await bot.click("stu", "ack", step="instruction")
    run = await asyncio.wait_for(runner.wait_finished(), 5)

    assert run.outcome is RunOutcome.ADMITTED
    for kind in (StepKind.EQUIPMENT, StepKind.ROOM_SCAN, StepKind.ID_DOCUMENT, StepKind.NAME_ALOUD):
        step = run.step(kind)
        assert step.status is StepStatus.PASSED, (kind, step.auto)
        assert step.auto.available and step.auto.passed
        assert step.evidence and all((bot.session_dir / p).is_file() for p in step.evidence)
    assert run.step(StepKind.ID_DOCUMENT).auto.details["read_name"] == "ИВАНОВ ИВАН ПЕТРОВИЧ"
    assert run.step(StepKind.NAME_ALOUD).auto.details["voiceprint"] == "voiceprints/student.npy"
    assert run.consent.given and run.consent.text_version == "2026-1"
    assert run.step(StepKind.DESK).decided_by.name == "Петрова А. А."
    stored = json.loads((bot.session_dir / "checklist.json").read_text(encoding="utf-8"))
    assert stored["outcome"] == "admitted" and stored["revision"] == run.revision
    with app_context.db() as db:
        count = len(db.scalars(select(ChecklistTransitionRow.seq)).all())
    assert count == len(run.transitions)
    prompt_keys = [p["key"] for p in bot.prompts if p["to"] == "stu"]
    assert prompt_keys[0] == "checklist.step.consent" and prompt_keys[-1] == "checklist.admitted"
    await until(lambda: bot.last_state("exp")["outcome"] == "admitted")  # the silent expert too
    examiner_state = bot.last_state("exp")
    assert examiner_state["evidence_url"] == f"/checklist/evidence/{exam_session_id}/"


async def test_second_face_in_room_scan_fails_then_examiner_overrides(start, bot) -> None:
    runner = start(
        plan(StepKind.ROOM_SCAN, StepKind.INSTRUCTION),
        detectors=detectors(room_scan=FakeRoomScan(max_faces=2)),
    )
    await until(lambda: runner.machine is not None and current(runner) == ("room_scan", "failed"))
    step = runner.run_state.step(StepKind.ROOM_SCAN)
    assert step.attempts == 2 and step.failure == "second_face"
    assert step.auto.details["max_faces"] == 2
    assert any(p.endswith("second-face.jpg") for p in step.evidence)
    assert [e.kind for e in bot.events] == ["extra_person", "extra_person"]
    # on the student's track as the recorder and the report name it, not the peer id
    assert {e.track for e in bot.events} == {"student-p-stu"}
    assert any(p["key"] == "checklist.retry.room_scan" for p in bot.prompts)
    await bot.click("ex1", "override", step="room_scan", reason="")
    await until(lambda: bot.errors_to("ex1"))
    assert bot.errors_to("ex1")[0]["code"] == "reason_required"
    await bot.click("ex1", "override", step="room_scan", reason="портрет на стене")
    await until(lambda: current(runner) == ("instruction", "running"))
    assert step.status is StepStatus.OVERRIDDEN and step.reason == "портрет на стене"
    assert runner.run_state.transitions[-2].action == "overridden"


async def test_name_mismatch_not_admitted_and_organizer_notified(start, bot) -> None:
    notifier = FakeNotifier()
    runner = start(
        plan(StepKind.ID_DOCUMENT, StepKind.INSTRUCTION),
        detectors=detectors(id_reader=FakeIdReader("ПЕТРОВ ПЁТР СЕРГЕЕВИЧ")),
        notifier=notifier,
    )
    await until(lambda: runner.machine is not None and current(runner) == ("id_document", "failed"))
    assert runner.run_state.step(StepKind.ID_DOCUMENT).failure == "name_mismatch"
    await bot.click("exp", "reject", step="id_document", reason="x")  # an expert cannot
    await until(lambda: bot.errors_to("exp"))
    await bot.click("ex2", "reject", step="id_document", reason="в документе другое ФИО")
    run = await asyncio.wait_for(runner.wait_finished(), 5)
    assert run.outcome is RunOutcome.NOT_ADMITTED
    await until(lambda: notifier.calls)
    assert notifier.calls[0][0] == "not_admitted" and "другое ФИО" in notifier.calls[0][3]
    assert any(p["key"] == "checklist.not_admitted" for p in bot.prompts)


async def test_consent_refused(start, bot) -> None:
    notifier = FakeNotifier()
    runner = start(plan(non_biometric_allowed=False), detectors=detectors(), notifier=notifier)
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("ex1", "consent", step="consent", given=True)  # not the examiner's to give
    await until(lambda: bot.errors_to("ex1"))
    await bot.click("stu", "consent", step="consent", given=False)
    run = await asyncio.wait_for(runner.wait_finished(), 5)
    assert run.outcome is RunOutcome.CONSENT_REFUSED
    assert run.consent.given is False and run.consent.actor.peer_id == "stu"
    assert run.step(StepKind.EQUIPMENT).status is StepStatus.PENDING
    await until(lambda: notifier.calls)
    assert notifier.calls == [("consent_refused", run.session_id, NAME)]


async def test_consent_refused_non_biometric_skips_automatic_checks(start, bot) -> None:
    runner = start(plan(StepKind.CONSENT, StepKind.ID_DOCUMENT), detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=False)
    await until(lambda: runner.run_state.step(StepKind.ID_DOCUMENT).auto is not None)
    assert runner.run_state.mode is ExamMode.NON_BIOMETRIC
    assert runner.run_state.step(StepKind.ID_DOCUMENT).auto.summary == "non_biometric"
    await bot.click("ex1", "confirm", step="id_document")
    run = await asyncio.wait_for(runner.wait_finished(), 5)
    assert run.outcome is RunOutcome.ADMITTED and run.mode is ExamMode.NON_BIOMETRIC


async def test_two_examiners_confirm_at_once(start, bot) -> None:
    runner = start(plan(StepKind.DESK, StepKind.INSTRUCTION), detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("desk", "running"))
    await asyncio.gather(
        bot.click("ex1", "confirm", step="desk"), bot.click("ex2", "confirm", step="desk")
    )
    await until(lambda: bot.errors_to("ex2"))
    assert bot.errors_to("ex2")[0]["code"] == "already_decided"
    assert sum(t.action == "confirmed" for t in runner.run_state.transitions) == 1
    # A late click on a step already past changes nothing either.
    await bot.click("ex1", "confirm", step="desk")
    await until(lambda: len(bot.errors_to("ex1")) == 1)
    assert current(runner) == ("instruction", "running")


async def test_student_drops_out_and_resumes_after_reload(start, bot) -> None:
    runner = start(plan(StepKind.EQUIPMENT, StepKind.INSTRUCTION, limit=60), detectors=detectors())
    await until(
        lambda: runner.machine is not None and current(runner) == ("instruction", "running")
    )
    del bot.peers["stu"]  # the student's page closes
    await until(lambda: current(runner) == ("instruction", "pending"))
    assert runner.run_state.step(StepKind.INSTRUCTION).attempts == 0
    await until(lambda: bot.last_state("ex1")["student_present"] is False)
    bot.peers["stu2"] = FakePeer("student", NAME, "p-stu")  # the reloaded page
    await until(lambda: current(runner) == ("instruction", "running"))
    assert runner.run_state.step(StepKind.INSTRUCTION).attempts == 1
    assert runner.run_state.step(StepKind.EQUIPMENT).status is StepStatus.PASSED
    await bot.click("stu", "ack", step="instruction")  # the old page's button: refused
    await until(lambda: bot.errors_to("stu"))
    await bot.click("stu2", "sync")
    await until(
        lambda: any(m["to"] == "stu2" and m["data"].get("buttons") == "ack" for m in bot.panels)
    )
    await bot.click("stu2", "ack", step="instruction")
    run = await asyncio.wait_for(runner.wait_finished(), 5)
    assert run.outcome is RunOutcome.ADMITTED
    assert [t.action for t in run.transitions].count("interrupted") == 1


async def test_step_timeout_retries_then_fails(start, bot) -> None:
    async def never(_ctx):
        await asyncio.sleep(3600)

    runner = start(
        plan(StepKind.ID_DOCUMENT, StepKind.INSTRUCTION, limit=0.2),
        checks={StepKind.ID_DOCUMENT: never},
    )
    await until(lambda: runner.machine is not None and current(runner) == ("id_document", "failed"))
    step = runner.run_state.step(StepKind.ID_DOCUMENT)
    assert step.failure == "timeout" and step.attempts == 2
    await bot.click("ex1", "retry", step="id_document")
    await until(lambda: runner.run_state.step(StepKind.ID_DOCUMENT).attempts == 3)
    await bot.click("ex1", "override", step="id_document", reason="документ проверен визуально")
    await until(lambda: current(runner) == ("instruction", "running"))


async def test_bot_restart_resumes_from_storage(start, bot) -> None:
    the_plan = plan(StepKind.CONSENT, StepKind.DESK, StepKind.INSTRUCTION)
    first = start(the_plan, detectors=detectors())
    await until(lambda: first.machine is not None and current(first) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=True)
    await until(lambda: current(first) == ("desk", "running"))
    revision = first.run_state.revision
    await asyncio.sleep(0.1)
    second = start(the_plan, detectors=detectors())  # the bot process restarted
    await until(lambda: second.machine is not None and current(second) == ("desk", "running"))
    assert second.run_state.revision > revision
    assert second.run_state.step(StepKind.CONSENT).status is StepStatus.PASSED
    assert second.run_state.consent.given


async def test_unavailable_detector_and_crashing_detector(start, bot) -> None:
    class Broken:
        def read(self, frames, expected_name):
            raise RuntimeError("tesseract missing")

    runner = start(
        plan(StepKind.ROOM_SCAN, StepKind.ID_DOCUMENT),
        detectors=ChecklistDetectors(room_scan=None, id_reader=Broken()),
    )
    await until(
        lambda: runner.machine is not None and runner.run_state.step(StepKind.ROOM_SCAN).auto
    )
    auto = runner.run_state.step(StepKind.ROOM_SCAN).auto
    assert auto.available is False and auto.summary == "unavailable" and auto.evidence
    await bot.click("ex1", "confirm", step="room_scan")
    await until(lambda: runner.run_state.step(StepKind.ID_DOCUMENT).auto is not None)
    auto = runner.run_state.step(StepKind.ID_DOCUMENT).auto
    assert auto.summary == "check_error" and "tesseract" in auto.details["error"]


async def test_time_limit_is_the_students_not_the_analysis(start, bot) -> None:
    from proctorbot.checklist.records import AutoResult

    async def slow_analysis(ctx):
        ctx.on_captured()  # the capture is over; the model takes its time
        await asyncio.sleep(0.6)
        return AutoResult(True, True, "name_ok")

    runner = start(
        plan(StepKind.NAME_ALOUD, StepKind.INSTRUCTION, limit=0.2),
        checks={StepKind.NAME_ALOUD: slow_analysis},
    )
    await until(
        lambda: runner.machine is not None and current(runner) == ("instruction", "running")
    )
    step = runner.run_state.step(StepKind.NAME_ALOUD)
    assert (step.status, step.attempts) == (StepStatus.PASSED, 1)


async def test_hanging_detector_becomes_unavailable(start, bot) -> None:
    async def hangs(ctx):
        ctx.on_captured()
        await asyncio.sleep(3600)

    runner = start(
        plan(StepKind.DESK, StepKind.INSTRUCTION, limit=5),
        checks={StepKind.DESK: hangs},
        analysis_limit_s=0.2,
    )
    await until(
        lambda: runner.machine is not None and runner.run_state.step(StepKind.DESK).auto is not None
    )
    auto = runner.run_state.step(StepKind.DESK).auto
    assert auto.summary == "check_error" and "too long" in auto.details["error"]


async def test_malformed_panel_messages_are_refused(start, bot) -> None:
    runner = start(plan(StepKind.DESK, StepKind.INSTRUCTION), detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("desk", "running"))
    await bot.handlers["checklist"]("ex1", "confirm", ["not", "a", "dict"])
    await bot.click("ex1", "confirm", step="no_such_step")
    await bot.click("ex1", "launch_missiles", step="desk")
    await bot.click("intruder", "confirm", step="desk")  # not in the room
    await until(lambda: len(bot.errors_to("ex1")) == 3 and bot.errors_to("intruder"))
    assert current(runner) == ("desk", "running")


async def test_examiners_get_live_flags_after_admission(start, bot) -> None:
    from proctorbot.detection.events import DetectorEvent, EventKind

    runner = start(plan(StepKind.INSTRUCTION), detectors=detectors())
    await until(
        lambda: runner.machine is not None and current(runner) == ("instruction", "running")
    )
    await bot.click("stu", "ack", step="instruction")
    await asyncio.wait_for(runner.wait_finished(), 5)
    event = DetectorEvent(EventKind.THIRD_PARTY_VOICE, 61.5, 64.0, 0.9, "stu", ("evidence/v.wav",))
    bot.emit(event)  # a detector's event, on the session bus
    await until(lambda: any(m["action"] == "flag" for m in bot.panels))
    flags = [m for m in bot.panels if m["action"] == "flag"]
    assert {m["to"] for m in flags} == {"ex1", "ex2", "exp"}  # never the student
    assert flags[0]["data"]["kind"] == "third_party_voice" and flags[0]["data"]["start"] == 61.5
    await bot.click("ex1", "sync")
    await until(lambda: bot.last_state("ex1")["flags"])
    assert bot.last_state("ex1")["flags"][0]["evidence"] == ["evidence/v.wav"]


@pytest.mark.parametrize(
    ("loudness", "available", "summary"),
    [(3000, False, "speech_not_recognized"), (1, True, "no_speech")],
)
async def test_empty_transcript(start, bot, loudness, available, summary) -> None:
    bot.loudness = loudness
    runner = start(
        plan(StepKind.NAME_ALOUD, StepKind.INSTRUCTION, attempts=1),
        detectors=detectors(transcriber=FakeTranscriber("")),
    )
    await until(
        lambda: runner.machine is not None and runner.run_state.step(StepKind.NAME_ALOUD).auto
    )
    auto = runner.run_state.step(StepKind.NAME_ALOUD).auto
    assert (auto.available, auto.summary) == (available, summary)


async def test_poor_network_fails_the_equipment_step(start, bot) -> None:
    """The bot's receive stats (packet loss) decide the network part of the equipment check."""
    from proctorbot.bot.network_quality import NetworkQuality

    async def lossy(peer_id: str) -> NetworkQuality:
        return NetworkQuality(packets_received=800, packets_lost=200, jitter_ms=30.0)

    bot.network_quality = lossy
    runner = start(plan(), detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=True)
    await until(lambda: runner.run_state.step(StepKind.EQUIPMENT).auto is not None)
    auto = runner.run_state.step(StepKind.EQUIPMENT).auto
    assert auto.available and auto.passed is False
    assert "poor_network" in auto.details["problems"]
    assert auto.details["network"]["loss_ratio"] == 0.2


async def test_phone_camera_step_waits_for_the_phone_then_the_examiner_confirms(start, bot) -> None:
    steps = (StepKind.CONSENT, StepKind.PHONE_CAMERA, StepKind.INSTRUCTION)
    confirmed = ChecklistPlan(
        steps=tuple(StepPlan(k, 20.0, 2, k is StepKind.PHONE_CAMERA) for k in steps),
        capture_seconds=CAPTURE,
    )
    runner = start(confirmed, detectors=detectors())
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=True)
    await until(lambda: current(runner) == ("phone_camera", "running"))
    await asyncio.sleep(0.3)
    assert runner.run_state.step(StepKind.PHONE_CAMERA).auto is None  # no phone yet
    # another student's phone is not this student's
    bot.peers["other-phone"] = FakePeer("student", "Другой", "p-other", device="phone")
    await asyncio.sleep(0.3)
    assert runner.run_state.step(StepKind.PHONE_CAMERA).auto is None
    bot.peers["stu-phone"] = FakePeer("student", NAME, "p-stu", device="phone")
    await until(lambda: runner.run_state.step(StepKind.PHONE_CAMERA).auto is not None)
    step = runner.run_state.step(StepKind.PHONE_CAMERA)
    assert step.auto.passed and step.auto.summary == "phone_camera_ok"
    assert step.auto.details["phone"] == "stu-phone"
    assert step.evidence and (bot.session_dir / step.evidence[0]).is_file()
    assert current(runner) == ("phone_camera", "running")  # the examiner confirms the snapshot
    await bot.click("ex1", "confirm", step="phone_camera")
    await until(lambda: current(runner) == ("instruction", "running"))


async def test_screen_share_step_waits_for_the_students_screen_then_passes(start, bot) -> None:
    """002 §5.9: the screen, where recorded, is confirmed running before the exam: the step
    prompts the student, waits for their "screen" source and passes on its picture, with a
    snapshot the examiner sees."""
    steps = (StepKind.CONSENT, StepKind.SCREEN_SHARE, StepKind.INSTRUCTION)
    runner = start(
        ChecklistPlan(steps=tuple(StepPlan(k, 20.0) for k in steps), capture_seconds=CAPTURE)
    )
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=True)
    await until(lambda: current(runner) == ("screen_share", "running"))
    await until(lambda: any(p["key"] == "checklist.step.screen_share" for p in bot.prompts))
    prompt = next(p for p in bot.prompts if p["key"] == "checklist.step.screen_share")
    assert prompt["to"] == "stu" and "весь экран" in prompt["text"].lower()
    await asyncio.sleep(0.3)
    assert runner.run_state.step(StepKind.SCREEN_SHARE).auto is None  # nothing shared yet
    bot.peers["stu-phone"] = FakePeer("student", NAME, "p-stu", device="phone")  # not a screen
    bot.peers["other-screen"] = FakePeer("student", "Другой", "p-other", device="screen")
    await asyncio.sleep(0.3)
    assert runner.run_state.step(StepKind.SCREEN_SHARE).auto is None
    bot.peers["stu-screen"] = FakePeer("student", NAME, "p-stu", device="screen")
    await until(lambda: current(runner) == ("instruction", "running"))
    step = runner.run_state.step(StepKind.SCREEN_SHARE)
    assert step.status is StepStatus.PASSED and step.auto.summary == "screen_share_ok"
    assert step.auto.details["screen"] == "stu-screen"
    assert step.evidence and (bot.session_dir / step.evidence[0]).is_file()

    def shown_to_the_examiner() -> list[str]:
        steps = bot.last_state("ex1")["steps"]
        return [s["status"] for s in steps if s["kind"] == "screen_share"]

    await until(lambda: shown_to_the_examiner() == ["passed"])


async def test_screen_never_shared_fails_in_words_and_the_examiner_may_override(start, bot) -> None:
    steps = (StepKind.CONSENT, StepKind.SCREEN_SHARE, StepKind.INSTRUCTION)
    runner = start(
        ChecklistPlan(
            steps=tuple(StepPlan(k, 1.5 if k is StepKind.SCREEN_SHARE else 20.0, 1) for k in steps),
            capture_seconds=CAPTURE,
        )
    )
    await until(lambda: runner.machine is not None and current(runner) == ("consent", "running"))
    await bot.click("stu", "consent", step="consent", given=True)
    await until(lambda: current(runner) == ("screen_share", "failed"))
    step = runner.run_state.step(StepKind.SCREEN_SHARE)
    assert step.failure == "screen_not_shared"  # what is missing, not "the time ran out"
    await until(lambda: any(p["key"] == "checklist.wait" for p in bot.prompts))
    await bot.click("ex1", "override", step="screen_share", reason="экран показан по видео")
    await until(lambda: current(runner) == ("instruction", "running"))
    assert step.status is StepStatus.OVERRIDDEN
