"""The equipment step asks the bot whether the student's camera and microphone are being
recorded: frames that reached the recorder a moment ago, by the student's own key (the
phone or the screen of the same person is another source, not the camera)."""

from __future__ import annotations

import time

from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bot import SessionBot
from proctorbot.checklist.recording_probe import BotRecordingProbe
from proctorbot.recording.frames import EncodedFrame


def _frame(kind: str, arrival: float) -> EncodedFrame:
    codec, rate = ("vp8", 90000) if kind == "video" else ("opus", 48000)
    return EncodedFrame(kind, codec, rate, 0, arrival, b"\x00" * 8)


async def test_recent_frames_of_the_student_mean_recording(settings) -> None:
    settings.recording.make_composite = False
    bot = SessionBot("s-probe", "ws://127.0.0.1:9/ws?t=x", settings)
    student = PeerInfo("peer-s", "student", "Student Person", "s1")
    phone = PeerInfo("peer-p", "student", "Student Person", "s1", device="phone")
    for peer in (student, phone):
        bot.peers[peer.peer_id] = peer
    probe = BotRecordingProbe(bot, fresh_s=5.0)
    assert probe.sources_recording("peer-s") == {"camera": False, "microphone": False}

    def track(peer: PeerInfo, kind: str) -> object:
        codec = "vp8" if kind == "video" else "opus"
        recording = bot.recorder.open_track(bot._key(peer), kind, codec, peer.role)
        bot.media.recordings[id(recording)] = recording
        return recording

    track(phone, "video").push(_frame("video", time.time()))  # the phone's camera only
    assert probe.sources_recording("peer-s") == {"camera": False, "microphone": False}
    microphone = track(student, "audio")
    microphone.push(_frame("audio", time.time() - 60))  # the microphone stopped a minute ago
    track(student, "video").push(_frame("video", time.time()))
    assert probe.sources_recording("peer-s") == {"camera": True, "microphone": False}
    microphone.push(_frame("audio", time.time()))
    assert probe.sources_recording("peer-s") == {"camera": True, "microphone": True}
    assert probe.sources_recording("nobody") == {"camera": False, "microphone": False}
    await bot.recorder.close()
