import os
import time

from proctorbot.checklist.recording_probe import RecordingFilesProbe

from tests.checklist.fakes import FakePeer, FakeSessionBot


def test_fresh_files_mean_recording(tmp_path) -> None:
    bot = FakeSessionBot(session_dir=tmp_path)
    bot.peers["s1"] = FakePeer("student", "Иванов Иван")
    probe = RecordingFilesProbe(bot, fresh_s=5.0)
    assert probe.sources_recording("s1") == {"camera": False, "microphone": False}
    folder = tmp_path / "student-Иванов_Иван"
    folder.mkdir()
    (folder / "video-01-0000.ivf").write_bytes(b"DKIF....")
    audio = folder / "audio-01-0000.ogg"
    audio.write_bytes(b"OggS")
    old = time.time() - 60
    os.utime(audio, (old, old))  # the microphone stopped a minute ago
    assert probe.sources_recording("s1") == {"camera": True, "microphone": False}
