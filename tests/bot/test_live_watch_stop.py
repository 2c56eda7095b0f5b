"""What is still open when the bot leaves is closed at that time and written.

A face absent for the last 40 s, a frozen camera, a third-party voice still heard, a
connection stalled: the live watch is stopped (cancelled, as ``SessionBot._shutdown``
does) and each of them must be in ``events.jsonl`` with end = the stop time, and alerted
like any other finding. Fast: fake feeds, a stand-in audio detector, the real
``VideoWatcher`` on plain frames (no face model beyond dlib's built-in HOG).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from proctorbot.bot.live_watch import LiveDetectors, LiveWatch, LiveWatchOptions
from proctorbot.bot.peers import PeerInfo
from proctorbot.config.profiles import load_profile
from proctorbot.detection.events import DetectorEvent, EventKind

from tests.bot.handover_helpers import SR, FakeSessionBot, ListSink

pytestmark = [pytest.mark.timeout(90)]

T0 = 30.0
STUDENT, EXAMINER = "peer-student", "peer-examiner"
STUDENT_TRACK = "student-student"


def _bot(tmp_path: Path, session_id: str) -> FakeSessionBot:
    bot = FakeSessionBot(session_id, tmp_path / "recordings" / session_id)
    bot.peers.update(
        {
            EXAMINER: PeerInfo(EXAMINER, "examiner", "Examiner Person", "examiner"),
            STUDENT: PeerInfo(STUDENT, "student", "Student Person", "student"),
        }
    )
    return bot


async def _leave(bot: FakeSessionBot, task: asyncio.Task, watch: LiveWatch, at: float) -> None:
    """What SessionBot._shutdown does: stopped_at, cancel, wait for the plug-in."""
    bot.stopped_at = at
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    await watch.drain()


def _empty_room_frames(seconds: float, fps: float = 2.0) -> list[tuple[float, np.ndarray]]:
    """A camera showing the same empty room: nobody there, the picture not moving."""
    rng = np.random.default_rng(7)
    room = rng.integers(90, 160, size=(240, 320, 3), dtype=np.uint8)
    return [(T0 + i / fps, room.copy()) for i in range(int(seconds * fps))]


async def test_video_conditions_open_at_the_leave_end_at_the_stop_time(tmp_path: Path) -> None:
    from proctorbot.detection.faces import FaceAnalyzer

    bot = _bot(tmp_path, "s-video-open")
    bot.video[STUDENT] = _empty_room_frames(40.0)  # face absent and frozen for 40 s
    sink = ListSink()
    watch = LiveWatch(
        bot,
        profile=load_profile("examus-like"),  # any time away is gross: alerted
        detectors=LiveDetectors(audio_models=None, face_analyzer=FaceAnalyzer),
        alerts=sink,
        options=LiveWatchOptions(wait_for_admission=False, poll_s=0.05),
    )
    task = asyncio.create_task(watch.run())
    await bot.wait_media(f"video:{STUDENT}", 60)
    await asyncio.sleep(0.3)  # the last frame analysed; the student is still in the call
    await watch.drain()
    written = [e for e in bot.events() if e["kind"] != "participant_left"]
    assert {e["kind"] for e in written} == {"face_absent", "frozen_video"}, written
    assert all(e["details"]["open"] is True for e in written), "still going on: written open"
    # alerted while it lasts (any time away is gross here), not when the bot leaves
    assert [(f.rule, f.severity) for f in sink.sent] == [("away", "gross")]
    assert sink.sent[0].start == pytest.approx(T0, abs=0.01)
    assert sink.sent[0].values["ongoing"] is True, "the alert says it still goes on"

    stop = T0 + 55.0  # the bot leaves 15 s after the last frame it analysed
    await _leave(bot, task, watch, stop)

    events = {e["kind"]: e for e in bot.events() if not e["details"].get("open")}
    assert set(events) == {"face_absent", "frozen_video"}, events
    for kind, start in (("face_absent", T0), ("frozen_video", T0 + 0.5)):  # frozen: 2nd frame on
        assert events[kind]["start"] == pytest.approx(start, abs=0.01)
        assert events[kind]["end"] == pytest.approx(stop), "closed at the stop time"
        assert events[kind]["details"]["open_when_stopped"] is True
        assert events[kind]["track"] == STUDENT_TRACK
    assert len(sink.sent) == 1, "the same finding is not alerted again at the leave"
    alerts = [d for area, a, d, to in bot.panels if a == "alert" and to == EXAMINER]
    assert [d["kind"] for d in alerts] == ["away_too_long"]


async def test_a_feed_that_ends_closes_its_conditions_at_the_last_frame(tmp_path: Path) -> None:
    """The student left (their feed ended): the condition was last seen at the last frame."""
    from proctorbot.bot.live_video import StudentVideoWatch
    from proctorbot.detection.faces import FaceAnalyzer
    from proctorbot.detection.video_watch import VideoWatcher

    frames = _empty_room_frames(5.0)

    async def feed():
        for item in frames:
            yield item

    emitted: list[DetectorEvent] = []
    watcher = VideoWatcher(analyzer=FaceAnalyzer(), track=STUDENT_TRACK)
    await StudentVideoWatch(watcher, emitted.append, lambda: T0 + 99.0).run(feed())
    closed = [e for e in emitted if not e.details.get("open")]
    assert [e.kind for e in closed] == [EventKind.FACE_ABSENT]
    assert closed[0].end == pytest.approx(frames[-1][0])
    assert "open_when_stopped" not in closed[0].details
    assert all(e.kind == EventKind.FACE_ABSENT for e in emitted), "written open as it held"


class GrowingVoiceDetector:
    """Stands in for ThirdPartyVoiceDetector: a voice from 1 s on, confirmed at 2 s (the
    event is emitted then), still heard when the track ends."""

    def __init__(self, models, voiceprint, *, track, session_offset, session_dir) -> None:
        self.track = track
        self.offset = session_offset
        self.voiceprint = voiceprint
        self.seconds = 0.0
        self.confirmed = False

    def feed(self, samples: np.ndarray, at: float | None = None) -> list[DetectorEvent]:
        time.sleep(0.01)
        self.seconds += len(samples) / SR
        if self.seconds >= 2.0 and not self.confirmed:
            self.confirmed = True
            return [
                DetectorEvent(
                    EventKind.THIRD_PARTY_VOICE,
                    self.offset + 1.0,
                    self.offset + 2.0,
                    0.8,
                    self.track,
                    details={"voiceprint": None},
                )
            ]
        return []

    def feed_examiner(self, samples: np.ndarray, at: float | None = None) -> list[DetectorEvent]:
        return []

    def finish(self) -> list[DetectorEvent]:
        return []  # confirmed long ago; the finding only grew

    def findings_json(self) -> dict:
        third_party = [
            {"start": self.offset + 1.0, "end": self.offset + self.seconds, "score": 0.9}
        ]
        return {"third_party": third_party if self.confirmed else [], "overlap": [], "speech": []}

    def growing_findings_json(self) -> dict:
        return self.findings_json()


async def _growing_voice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    session_id: str,
    seconds: float,
    extent_every_s: float,
) -> tuple[FakeSessionBot, asyncio.Task, LiveWatch, ListSink]:
    """A live watch over ``seconds`` of student audio in which GrowingVoiceDetector hears a
    voice from 1 s on, until the end."""
    from proctorbot.bot import live_audio

    monkeypatch.setattr(live_audio, "ThirdPartyVoiceDetector", GrowingVoiceDetector)
    models = SimpleNamespace(embedder=None, overlap=None, new_vad=lambda: None)
    bot = _bot(tmp_path, session_id)
    bot.audio[STUDENT] = [
        (T0 + i * 0.1, np.full(1600, 100, np.int16)) for i in range(int(seconds * 10))
    ]
    sink = ListSink()
    watch = LiveWatch(
        bot,
        profile=load_profile("university-admission"),
        detectors=LiveDetectors(audio_models=lambda: models, face_analyzer=None),
        alerts=sink,
        options=LiveWatchOptions(
            wait_for_admission=False,
            poll_s=0.05,
            audio_batch_s=0.5,
            audio_extent_every_s=extent_every_s,
        ),
    )
    task = asyncio.create_task(watch.run())
    await bot.wait_media(f"audio:{STUDENT}", 30)
    return bot, task, watch, sink


def _assert_one_finding_alerted_once(voices: list[dict], end: float, sink: ListSink) -> None:
    from proctorbot.detection.events import DetectorEvent as Event
    from proctorbot.rules.engine import evaluate

    profile = load_profile("university-admission")
    findings = [
        f
        for f in evaluate([Event.from_json(v) for v in voices], profile)
        if f.rule == "third_party_voice"
    ]
    assert len(findings) == 1 and findings[0].end == pytest.approx(end), "one finding"
    assert len([f for f in sink.sent if f.rule == "third_party_voice"]) == 1, "alerted once"


async def test_a_voice_still_heard_at_the_leave_gets_its_final_extent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds = 10.0
    bot, task, watch, sink = await _growing_voice(
        tmp_path, monkeypatch, "s-voice-open", seconds, extent_every_s=60.0
    )
    async with asyncio.timeout(10):  # the confirmed event is on disk before the leave
        while not [e for e in bot.events() if e["kind"] == "third_party_voice"]:
            await asyncio.sleep(0.05)
    await _leave(bot, task, watch, T0 + seconds)

    voices = [e for e in bot.events() if e["kind"] == "third_party_voice"]
    assert [(v["start"], v["end"]) for v in voices] == [
        (T0 + 1.0, T0 + 2.0),
        (T0 + 1.0, pytest.approx(T0 + seconds)),
    ], "the confirmed event, then its final extent at the leave"
    assert voices[1]["details"]["extended_from"] == T0 + 2.0
    _assert_one_finding_alerted_once(voices, T0 + seconds, sink)


async def test_a_voice_that_goes_on_is_written_as_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash loses at most ``audio_extent_every_s`` of a voice's extent: while it is still
    heard, each growth by that much is on disk before the leave."""
    seconds = 12.0
    bot, task, watch, sink = await _growing_voice(
        tmp_path, monkeypatch, "s-voice-grows", seconds, extent_every_s=3.0
    )

    def written_ends() -> list[float]:
        return [e["end"] for e in bot.events() if e["kind"] == "third_party_voice"]

    async with asyncio.timeout(15):  # before any leave: the growth is already on disk
        while not written_ends() or max(written_ends()) < T0 + seconds - 3.0 - 0.5:
            await asyncio.sleep(0.05)
    await _leave(bot, task, watch, T0 + seconds)

    voices = [e for e in bot.events() if e["kind"] == "third_party_voice"]
    ends = [v["end"] - T0 for v in voices]
    assert ends[0] == pytest.approx(2.0) and ends[-1] == pytest.approx(seconds)
    assert all(b - a >= 3.0 for a, b in zip(ends[:-1], ends[1:-1], strict=False)), ends
    assert len(voices) >= 4, f"written as it grew: {ends}"
    assert {v["start"] for v in voices} == {T0 + 1.0}
    _assert_one_finding_alerted_once(voices, T0 + seconds, sink)


async def test_a_detector_call_under_way_when_cancelled_keeps_its_result() -> None:
    from proctorbot.bot.off_loop import to_the_end

    started, results = threading.Event(), []

    def slow() -> list[str]:
        started.set()
        time.sleep(0.3)
        return ["closed event"]

    async def consumer() -> None:
        results.extend(await to_the_end(slow))
        await asyncio.sleep(10)  # the cancel lands here, after the result was kept

    task = asyncio.create_task(consumer())
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert results == ["closed event"]


async def test_a_student_cut_off_is_alerted_while_the_gap_lasts(tmp_path: Path) -> None:
    """The alert comes once the open gap crosses the profile's allowance, not on return."""
    import json

    from proctorbot.bot.session_bot import OpenGap

    bot = _bot(tmp_path, "s-gap-open")
    bot.started_at = time.time() - 1000.0
    sink = ListSink()
    watch = LiveWatch(
        bot,
        profile=load_profile("university-admission"),  # 5 minutes away in total
        detectors=LiveDetectors(),
        alerts=sink,
        options=LiveWatchOptions(wait_for_admission=False, poll_s=0.05, open_gap_check_s=0.05),
    )
    task = asyncio.create_task(watch.run())
    now = time.time() - bot.started_at
    bot.gaps = [OpenGap(STUDENT_TRACK, round(now - 200.0, 3), "media_timeout")]
    await asyncio.sleep(0.4)
    assert sink.sent == [], "200 s so far: within the allowance"

    start = round(now - 400.0, 3)  # the same gap seen from further back: 400 s so far
    bot.gaps = [OpenGap(STUDENT_TRACK, start, "media_timeout")]
    async with asyncio.timeout(5):
        while not sink.sent:
            await asyncio.sleep(0.05)
    assert [(f.rule, f.severity, f.start) for f in sink.sent] == [("away", "violation", start)]
    assert bot.events() == [], "nothing written while the gap is open"
    alerts = [d for area, a, d, to in bot.panels if a == "alert" and to == EXAMINER]
    assert [d["kind"] for d in alerts] == ["away_too_long"]

    # The student comes back: the bot writes the gap; it is the same finding, not a new alert.
    bot.gaps = []
    back = {
        "kind": "participant_left",
        "start": start,
        "end": start + 420.0,
        "track": STUDENT_TRACK,
    }
    with open(bot.session_dir / "events.jsonl", "a") as handle:
        handle.write(json.dumps(back) + "\n")
    await asyncio.sleep(0.5)
    await _leave(bot, task, watch, time.time() - bot.started_at)
    assert len(sink.sent) == 1, sink.sent
