"""The hand-over after a session on a small session folder with real models.

The folder holds what the recorder leaves (manifest, one 16 kHz analysis WAV per
participant: the student with a prompter in a pause, the examiner), the voiceprint of
the checklist and one live event. The test checks the files the report reads, the
rebuilt report, the ``session_finished`` notification and the progress file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from proctorbot.handover.folder import HANDOVER_FILE
from proctorbot.handover.session_handover import SessionHandOver
from proctorbot.storage.models import ExamSession

from tests.bot.handover_helpers import SR, add_session, outbox_rows, write_voiceprint
from tests.detection.conftest import audio_models, place, voices  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STARTED_AT = 1_780_000_000.0
STUDENT_KEY, EXAMINER_KEY = "student-student", "examiner-examiner"
STUDENT_OFFSET, EXAMINER_OFFSET = 2.0, 1.0


@pytest.fixture(scope="module")
def transcriber():
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.model_files import ModelMissingError
    from proctorbot.detection.transcription import build_transcriber

    try:
        return build_transcriber(DetectionSettings(torch_threads=2))
    except (ModelMissingError, ImportError) as missing:
        pytest.skip(f"no Whisper model: {missing}")


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def make_folder(folder: Path, voices, models) -> tuple[float, float]:  # noqa: ANN001, F811
    """A finished session's folder; returns the prompter's span (session seconds)."""
    from proctorbot.detection.audio_input import write_wav

    s = voices.student
    student = np.concatenate([s[: 10 * SR], _silence(5.0), s[10 * SR :]])
    start, end = place(student, voices.prompter[: 4 * SR], 10.5, -3.0, ref=voices.student)
    examiner = np.concatenate([_silence(0.5), voices.examiner, _silence(1.0)])
    write_wav(folder / STUDENT_KEY / "analysis.wav", student)
    write_wav(folder / EXAMINER_KEY / "analysis.wav", examiner)

    def entry(key: str, role: str, name: str, offset: float, samples: np.ndarray) -> dict:
        return {
            "path": f"{key}/analysis.wav",
            "kind": "analysis",
            "codec": "pcm_s16le",
            "participant": key,
            "role": role,
            "started_at": STARTED_AT + offset,
            "duration": len(samples) / SR,
        }

    manifest = {
        "session_id": folder.name,
        "started_at": STARTED_AT,
        "ended_at": STARTED_AT + STUDENT_OFFSET + len(student) / SR,
        "participants": [
            {
                "participant": STUDENT_KEY,
                "role": "student",
                "name": "Student Person",
                "person_id": "student",
                "joined_at": STARTED_AT + STUDENT_OFFSET,
            },
            {
                "participant": EXAMINER_KEY,
                "role": "examiner",
                "name": "Examiner Person",
                "person_id": "examiner",
                "joined_at": STARTED_AT + EXAMINER_OFFSET,
            },
        ],
        "files": [
            entry(STUDENT_KEY, "student", "Student Person", STUDENT_OFFSET, student),
            entry(EXAMINER_KEY, "examiner", "Examiner Person", EXAMINER_OFFSET, examiner),
        ],
        "gaps": [],
        "errors": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    event = {
        "kind": "third_party_voice",
        "start": STUDENT_OFFSET + start,
        "end": STUDENT_OFFSET + end,
        "score": 0.8,
        "track": STUDENT_KEY,
        "evidence": [],
        "details": {},
    }
    (folder / "events.jsonl").write_text(json.dumps(event) + "\n")
    write_voiceprint(models, folder, voices.enroll)
    return STUDENT_OFFSET + start, STUDENT_OFFSET + end


async def test_full_pass_report_and_finished_notice(
    app_context,
    audio_models,  # noqa: F811
    voices,  # noqa: F811
    transcriber,  # noqa: F811
) -> None:
    ids = add_session(app_context, profile="university-admission")
    folder = app_context.settings.recordings_dir / ids.session_id
    folder.mkdir(parents=True)
    prompter = make_folder(folder, voices, audio_models)
    left: list[str] = []

    async def leave_bot(session_id: str) -> None:
        left.append(session_id)

    hand_over = SessionHandOver(
        app_context,
        audio_models=lambda: audio_models,
        transcriber=lambda: transcriber,
        leave_bot=leave_bot,
    )
    result = await hand_over(ids.session_id)

    assert left == [ids.session_id], "the bot leaves first: the recording is finalised"
    assert result.ok, result.steps
    names = [s.name for s in result.steps]
    # the report and the organizers' link first, then the composite and the audio pass
    assert names[:6] == ["recording", "report", "notify", "composite", "models", "speech"]
    assert sorted(names[6:8]) == ["diarization", "transcripts"], "side by side, either ends first"
    assert names[8:] == ["voices", "report_final"]
    # speech.json: per participant, in session seconds (file offset added)
    speech = json.loads((folder / "speech.json").read_text())
    assert set(speech) == {STUDENT_KEY, EXAMINER_KEY}
    assert speech[STUDENT_KEY][0]["start"] >= STUDENT_OFFSET
    assert speech[EXAMINER_KEY][0]["start"] >= EXAMINER_OFFSET + 0.3
    # diarization: RTTM plus labelled clusters, the student's among them
    rttm = (folder / "diarization" / f"{STUDENT_KEY}.rttm").read_text().splitlines()
    assert rttm and all(line.startswith("SPEAKER ") for line in rttm)
    diarization = json.loads((folder / "diarization.json").read_text())["tracks"][0]
    roles = {c["role"] for c in diarization["clusters"]}
    assert "student" in roles and roles <= {"student", "examiner-echo", "unknown"}
    # transcript.json: every track, speaker = the manifest's participant key
    transcript = json.loads((folder / "transcript.json").read_text())
    lines = transcript["segments"]
    assert {line["speaker"] for line in lines} == {STUDENT_KEY, EXAMINER_KEY}
    said = " ".join(line["text"] for line in lines if line["speaker"] == STUDENT_KEY).lower()
    assert "derivative" in said, said
    heard = " ".join(line["text"] for line in lines if line["speaker"] == EXAMINER_KEY).lower()
    assert "function" in heard or "composite" in heard, heard
    assert all(line["words"] and line["start"] >= 1.0 for line in lines)
    assert all("voice" in line for line in lines if line["speaker"] == STUDENT_KEY)
    # the prompter on the student's microphone: its own cluster, not the student's
    unknown = [t for t in diarization["turns"] if t["speaker"].startswith("unknown:")]
    assert any(t["start"] < prompter[1] and t["end"] > prompter[0] for t in unknown), diarization
    during = [
        line
        for line in lines
        if line["speaker"] == STUDENT_KEY and prompter[0] - 1 <= line["start"] < prompter[1]
    ]
    assert during and {line["voice"] for line in during} == {"unknown"}, during
    # the report, rebuilt from those files
    html = result.report_html.read_text(encoding="utf-8")
    assert result.report_html == folder / "report" / "report.html"
    assert "derivative" in html.lower(), "the transcript is in the report"
    data = json.loads((folder / "report" / "report.json").read_text())
    assert any(f["rule"] == "third_party_voice" for f in data["findings"])
    # the organizers are told, with the signed link
    finished = outbox_rows(app_context, "session_finished")
    assert [row.person_id for row in finished] == [ids.organizer]
    assert "/d/" in finished[0].text and "/100" in finished[0].text
    progress = json.loads((folder / HANDOVER_FILE).read_text())
    assert [s["ok"] for s in progress["steps"]] == [True] * 10
    assert progress["complete"] is True
    assert progress["progress"] == {"done": 10, "of": 10, "running": None}
    with app_context.db() as db:
        session = db.get(ExamSession, ids.session_id)
        assert session.status == "finished" and session.finished_at is not None


async def test_a_failed_step_keeps_the_report_and_the_notice(app_context) -> None:
    from proctorbot.detection.model_files import ModelMissingError

    ids = add_session(app_context, profile="university-admission")
    folder = app_context.settings.recordings_dir / ids.session_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "session_id": ids.session_id,
                "started_at": STARTED_AT,
                "ended_at": STARTED_AT + 5,
                "participants": [],
                "files": [
                    {
                        "path": "s/analysis.wav",
                        "kind": "analysis",
                        "codec": "pcm_s16le",
                        "participant": "s",
                        "role": "student",
                        "started_at": STARTED_AT,
                        "duration": 5.0,
                    },
                ],
            }
        )
    )
    (folder / "s").mkdir()
    from proctorbot.detection.audio_input import write_wav

    write_wav(folder / "s" / "analysis.wav", _silence(5.0))

    def no_models():
        raise ModelMissingError("segmentation-3.0 weights not found")

    result = await SessionHandOver(app_context, audio_models=no_models, transcriber=None)(
        ids.session_id
    )
    assert [(s.name, s.ok) for s in result.steps] == [
        ("recording", True),
        ("report", True),
        ("notify", True),
        ("composite", True),  # no camera or microphone files: nothing to compose
        ("models", False),
    ]
    assert "segmentation" in result.step("models").detail
    assert (folder / "report" / "report.html").is_file()
    assert len(outbox_rows(app_context, "session_finished")) == 1
    progress = json.loads((folder / HANDOVER_FILE).read_text())
    assert progress["steps"][4] == {**progress["steps"][4], "name": "models", "ok": False}
    assert progress["complete"] is True, "every step ran; one failed"


async def test_a_trial_call_hands_over_the_recording_and_the_report_only(app_context) -> None:
    """A test call's outcome is the checklist's: no composite, no audio pass, no notice
    (the day's trial summary tells the organizers)."""
    from proctorbot.storage.models import SessionKind

    ids = add_session(app_context, profile="university-admission")
    with app_context.db.begin() as db:
        db.get(ExamSession, ids.session_id).kind = SessionKind.TRIAL
    folder = app_context.settings.recordings_dir / ids.session_id
    folder.mkdir(parents=True)
    manifest = {"session_id": ids.session_id, "started_at": STARTED_AT, "ended_at": STARTED_AT}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files": [], "gaps": []}))

    def no_models():
        raise AssertionError("a trial call loads no model")

    result = await SessionHandOver(app_context, audio_models=no_models, transcriber=None)(
        ids.session_id
    )
    assert [(s.name, s.ok) for s in result.steps] == [("recording", True), ("report", True)]
    assert (folder / "report" / "report.html").is_file()
    assert outbox_rows(app_context, "session_finished") == []
    progress = json.loads((folder / HANDOVER_FILE).read_text())
    assert progress["complete"] is True and progress["progress"]["of"] == 2


async def test_serve_plugs_the_live_watch_and_the_hand_over_in(app_context) -> None:
    from proctorbot.bot.service import BOT_MANAGER
    from proctorbot.handover.closer import SessionCloser
    from proctorbot.handover.service import HAND_OVER, LIVE_WATCH_PLUGIN
    from proctorbot.scheduling.service import JOB_HOOKS

    from proctorbot.app import Areas, build_app

    app = await build_app(app_context, areas=Areas(bot=True, handover=True, scheduling=True))
    manager = app[BOT_MANAGER]
    assert app[LIVE_WATCH_PLUGIN] in manager.plugins
    assert manager.after_session is app[HAND_OVER], "a bot that left by itself hands over"
    closer = app[JOB_HOOKS].post_session
    assert isinstance(closer, SessionCloser) and closer.manager is manager


async def test_the_post_session_job_hands_over_only_what_no_bot_records(app_context) -> None:
    from proctorbot.handover.closer import SessionCloser

    class Manager:
        def __init__(self) -> None:
            self.joined = {"s-live"}
            self.handed: list[str] = []

        def is_joined(self, session_id: str) -> bool:
            return session_id in self.joined

        async def hand_over(self, session_id: str) -> None:
            self.handed.append(session_id)

    manager = Manager()
    folders = app_context.settings.recordings_dir
    (folders / "s-done").mkdir(parents=True)
    (folders / "s-done" / HANDOVER_FILE).write_text(json.dumps({"complete": True}))
    closer = SessionCloser(manager, folders)
    assert "in the call" in await closer("s-live"), "the bot leaves by itself, then hands over"
    assert await closer("s-done") == "already handed over"
    assert await closer("s-crashed") == "handed over"
    assert manager.handed == ["s-crashed"]
