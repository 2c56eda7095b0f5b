"""Third-party voice detection: self-made espeak voices (always) and real speech (evaldata)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.detection.conftest import SR, echo_of, overlaps, place

pytestmark = pytest.mark.slow


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def _analyze(models, student, enroll, examiner=None, **kw):
    from proctorbot.detection.audio_analysis import analyze_samples

    return analyze_samples(models, student, enroll, examiner, **kw)


# --------------------------------------------------------------------------- synthetic voices
def test_enrollment_needs_three_seconds(audio_models, voices):
    from proctorbot.detection.voiceprint import enroll

    ok = enroll(voices.enroll, audio_models.embedder, audio_models.new_vad())
    assert ok.ok and ok.speech_seconds >= 3.0
    short = enroll(voices.enroll[: int(1.5 * SR)], audio_models.embedder, audio_models.new_vad())
    assert not short.ok
    assert "too short" in short.messages[0] and "clustering" in short.messages[0]


def test_prompter_in_a_pause_is_flagged_student_is_not(audio_models, voices):
    track = np.concatenate([voices.student[: 8 * SR], _silence(5.0), voices.student[8 * SR :]])
    start, end = place(track, voices.prompter[: 4 * SR], 8.5, -6.0, ref=voices.student)
    result = _analyze(audio_models, track, voices.enroll)
    assert overlaps(result.third_party, start, end), result.third_party
    outside = [f for f in result.third_party if f["end"] < start - 1.0 or f["start"] > end + 1.0]
    assert outside == [], f"false alarms on the student's own speech: {outside}"
    assert result.speech and result.speech[0]["start"] < 1.0
    flagged = [w for w in result.windows if w.third_party]  # the scores behind the finding
    assert flagged and all(w.start < end and w.end > start for w in flagged), flagged
    assert all(w.similarity >= 0.35 for w in result.windows if not w.third_party)


def test_examiner_echo_is_not_a_third_party(audio_models, voices):
    pause = 6.0
    track = np.concatenate([voices.student[: 8 * SR], _silence(pause), voices.student[8 * SR :]])
    examiner = np.zeros_like(track)
    examiner[
        8 * SR + int(0.5 * SR) : 8 * SR + int(0.5 * SR) + min(len(voices.examiner), 5 * SR)
    ] = voices.examiner[: 5 * SR]
    track += echo_of(examiner, delay=0.15, gain_db=-6.0)
    with_examiner = _analyze(audio_models, track, voices.enroll, examiner)
    assert not overlaps(with_examiner.third_party, 8.0, 8.0 + pause), with_examiner.third_party
    # the same track without the examiner's own track: the echo looks like another voice
    blind = _analyze(audio_models, track, voices.enroll)
    assert overlaps(blind.third_party, 8.0, 8.0 + pause), "the echo should be audible as a voice"


def _hand_over_track(voices, after_echo: np.ndarray | None = None):
    """Student answers, the examiner's echo follows, then (no pause) ``after_echo`` or the
    student again; the examiner starts talking 1 s before the student's last answer ends."""
    a, b = voices.student[: 6 * SR], voices.student[6 * SR : 12 * SR]
    said = voices.examiner[: 4 * SR]
    follow = b if after_echo is None else after_echo
    track = np.concatenate([a, _silence(4.0), follow, b, _silence(3.0)])
    examiner = np.zeros_like(track)
    examiner[len(a) : len(a) + len(said)] = said  # echo fills the pause, ends at `follow`
    late = len(a) + 4 * SR + len(follow) + len(b) - SR  # double talk over b's last second
    examiner[late : late + 3 * SR] = voices.examiner[: 3 * SR]
    return track + echo_of(examiner, delay=0.15, gain_db=-6.0), examiner, len(a) / SR + 4.0


def test_echo_next_to_the_students_own_speech_raises_nothing(audio_models, voices):
    """Windows that hold the end of the echo and the start of the answer, and double talk
    (the examiner starts while the student finishes), are judged on their echo-free frames."""
    track, examiner, _ = _hand_over_track(voices)
    result = _analyze(audio_models, track, voices.enroll, examiner)
    assert result.third_party == [], result.third_party
    assert result.overlap == [], result.overlap


def test_a_prompter_right_after_the_examiner_is_still_flagged(audio_models, voices):
    prompter = voices.prompter[: 3 * SR] * (
        np.sqrt(np.mean(voices.student**2)) / np.sqrt(np.mean(voices.prompter[: 3 * SR] ** 2))
    )
    track, examiner, at = _hand_over_track(voices, prompter.astype(np.float32))
    result = _analyze(audio_models, track, voices.enroll, examiner)
    assert overlaps(result.third_party, at, at + 3.0), result.third_party
    assert not overlaps(result.third_party, 0.0, 5.5), "the student's first answer is theirs"


def test_live_detector_is_fast_and_keeps_evidence(audio_models, voices, tmp_path: Path):
    from proctorbot.detection.audio_input import float_to_int16
    from proctorbot.detection.third_party_voice import ThirdPartyVoiceDetector
    from proctorbot.detection.voiceprint import enroll

    track = np.concatenate(
        [voices.student[: 6 * SR], _silence(5.0), voices.student[6 * SR : 12 * SR]]
    )
    onset, _ = place(track, voices.prompter[: 4 * SR], 6.5, -6.0, ref=voices.student)
    print_ = enroll(voices.enroll, audio_models.embedder, audio_models.new_vad()).voiceprint
    seen: list = []
    detector = ThirdPartyVoiceDetector(
        audio_models,
        print_,
        session_offset=100.0,
        session_dir=tmp_path,
        track="peer-s",
        on_event=seen.append,
    )
    fed = 0.0
    first_at = None
    for i in range(0, len(track), SR // 4):  # 250-ms chunks, like the bot's frames
        events = detector.feed(float_to_int16(track[i : i + SR // 4]))
        fed += len(track[i : i + SR // 4]) / SR
        if first_at is None and any(e.kind == "third_party_voice" for e in events):
            first_at = fed
    detector.finish()
    assert first_at is not None, "no live event"
    assert first_at - onset <= 5.0, f"latency {first_at - onset:.1f} s"
    event = next(e for e in seen if e.kind == "third_party_voice")
    assert 100.0 + onset - 2.5 <= event.start <= 100.0 + onset + 2.0 and event.track == "peer-s"
    clip = tmp_path / event.evidence[0]
    with wave.open(str(clip)) as w:
        assert w.getframerate() == SR and abs(w.getnframes() / SR - 5.0) < 0.01


def test_short_enrollment_falls_back_to_clustering(audio_models, voices):
    student = np.concatenate([voices.student, voices.student[: 6 * SR]])
    track = np.concatenate([student[: 14 * SR], _silence(5.0), student[14 * SR :]])
    start, end = place(track, voices.prompter[: 4 * SR], 14.5, -6.0, ref=voices.student)
    result = _analyze(audio_models, track, voices.enroll[:SR])
    assert any("too short" in m for m in result.messages)
    assert any("clustering" in m for m in result.messages)
    assert overlaps(result.third_party, start, end), result.third_party


def test_analyze_audio_cli_prints_the_contract(audio_models, voices, tmp_path: Path, monkeypatch):
    from click.testing import CliRunner
    from proctorbot.detection.audio_input import write_wav

    from proctorbot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    track = np.concatenate([voices.student[: 6 * SR], _silence(5.0)])
    place(track, voices.prompter[: 4 * SR], 6.5, -6.0, ref=voices.student)
    write_wav(tmp_path / "s.wav", track)
    write_wav(tmp_path / "e.wav", voices.enroll)
    out = CliRunner().invoke(cli, ["analyze-audio", "s.wav", "--enroll", "e.wav", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(data) == {"third_party", "overlap", "speech"}
    assert data["third_party"] and all(
        isinstance(f["start"], float)
        and isinstance(f["end"], float)
        and isinstance(f["score"], float)
        for f in data["third_party"]
    )


# --------------------------------------------------------------------------- real speech
SINGLE = "speech_single"


def _speaker_track(evaldata: Path, speaker: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(enrollment, exam speech) from one LibriSpeech test-other speaker."""
    from proctorbot.detection.audio_input import load_audio

    files = sorted((evaldata / SINGLE / "librispeech_test_other_10spk" / speaker).glob("*.wav"))
    enroll = load_audio(files[0]).samples
    talk = np.concatenate([load_audio(f).samples for f in files[1 : 1 + count]])
    return enroll, talk


def _prompter(evaldata: Path, index: int) -> np.ndarray:
    from proctorbot.detection.audio_input import load_audio

    files = sorted((evaldata / SINGLE / "librispeech_train_clean_100_20spk").glob("*.wav"))
    return load_audio(files[index]).samples


@pytest.mark.parametrize(
    ("speaker", "prompter", "gain_db"), [("1688", 0, -6.0), ("2414", 11, -10.0), ("3005", 5, -15.0)]
)
def test_real_prompter_turns_are_found(audio_models, evaldata, speaker, prompter, gain_db):
    enroll, talk = _speaker_track(evaldata, speaker, 3)
    cut = int(min(10.0, len(talk) / SR / 2) * SR)
    track = np.concatenate([talk[:cut], _silence(4.0), talk[cut:]])
    start, end = place(
        track, _prompter(evaldata, prompter)[: 3 * SR], cut / SR + 0.5, gain_db, ref=talk
    )
    result = _analyze(audio_models, track, enroll)
    assert overlaps(result.third_party + result.overlap, start, end), (
        result.third_party,
        result.overlap,
    )
    outside = [f for f in result.third_party if f["end"] < start - 1.0 or f["start"] > end + 1.0]
    assert outside == [], outside


def test_real_whisper_over_the_student_is_overlap(audio_models, evaldata):
    enroll, talk = _speaker_track(evaldata, "2033", 3)
    track = talk.copy()
    start, end = place(track, _prompter(evaldata, 3)[: 4 * SR], 6.0, -6.0, ref=talk)
    result = _analyze(audio_models, track, enroll)
    assert overlaps(result.overlap + result.third_party, start, end), result


# (student, prompter file, onset s): the onset falls inside the student's answers. Of ten
# such placements (tuning students, a 3-s prompter piece at -15 dB), the detector finds 6
# with or without the second-voice head; these are the four it misses.
UNDER_SPEECH_CASES = (("2609", 4, 7.0), ("1688", 10, 12.0), ("2609", 14, 10.0), ("3080", 16, 12.0))


@pytest.mark.xfail(
    strict=True,
    reason="issue 16: a prompter 15 dB under the student's own speech is still missed "
    "(0 of these 4 found, with or without the second-voice head); remove when it passes",
)
def test_real_prompter_under_the_students_speech_at_minus_15_db(audio_models, evaldata):
    """A prompter 15 dB under the student, over the student's own answers (no pause): CAM++
    still hears the student (cosine 0.7-0.8) and segmentation-3.0 gives P(two voices)
    < 0.3 there. Goal: at least 3 of the 4 found, no finding elsewhere."""
    from proctorbot.detection.audio_input import load_audio

    found, outside = 0, []
    for speaker, prompter, at in UNDER_SPEECH_CASES:
        enroll, talk = _speaker_track(evaldata, speaker, 3)
        track = talk.copy()
        piece = load_audio(
            sorted((evaldata / SINGLE / "librispeech_train_clean_100_20spk").glob("*.wav"))[
                prompter
            ]
        ).samples[SR : 4 * SR]
        start, end = place(track, piece, at, -15.0, ref=talk)
        result = _analyze(audio_models, track, enroll)
        found += overlaps(result.third_party + result.overlap, start, end)
        outside += [
            f
            for f in result.third_party + result.overlap
            if f["end"] < start - 1.0 or f["start"] > end + 1.0
        ]
    assert outside == [], f"false alarms on the student's own speech: {outside}"
    assert found >= 3, f"{found} of {len(UNDER_SPEECH_CASES)} prompters under speech found"


def test_real_student_alone_and_examiner_echo_raise_nothing(audio_models, evaldata):
    enroll, talk = _speaker_track(evaldata, "367", 3)
    _, examiner_talk = _speaker_track(evaldata, "533", 1)
    exam_part = examiner_talk[: 5 * SR]
    cut = 8 * SR
    track = np.concatenate([talk[:cut], _silence(6.0), talk[cut:]])
    examiner = np.zeros_like(track)
    examiner[cut + SR // 2 : cut + SR // 2 + len(exam_part)] = exam_part
    track += echo_of(examiner, delay=0.12, gain_db=-10.0)
    result = _analyze(audio_models, track, enroll, examiner)
    assert result.third_party == [], result.third_party
    assert result.overlap == [], result.overlap


@pytest.mark.parametrize("speaker, examiner_speaker", [("367", "533"), ("2609", "3005")])
def test_real_echo_handing_over_to_the_student_raises_nothing(
    audio_models, evaldata, speaker, examiner_speaker
):
    """Each answer follows the examiner's echo with no pause, and every other time the
    examiner starts 1 s before the student stops (double talk): windows that hold echo and
    the student's own voice must not be read as a third party (they were: 2-4 per 90 s)."""
    from proctorbot.detection.audio_input import load_audio

    files = sorted((evaldata / SINGLE / "librispeech_test_other_10spk" / speaker).glob("*.wav"))
    enroll = load_audio(files[0]).samples
    answers = [load_audio(f).samples for f in files[1:8]]
    _, said = _speaker_track(evaldata, examiner_speaker, 4)
    parts, heard = [], []
    for i, answer in enumerate(answers):
        question = said[i * 3 * SR : (i + 1) * 3 * SR]
        ex = np.zeros(len(answer), np.float32)
        if i % 2:
            ex[-SR:] = question[:SR]  # the examiner starts before the answer ends
            question = question[SR:]
        parts += [answer, np.zeros(len(question), np.float32)]
        heard += [ex, question]
    track, examiner = np.concatenate(parts), np.concatenate(heard)
    track = track + echo_of(examiner, delay=0.12, gain_db=-10.0)
    result = _analyze(audio_models, track, enroll, examiner)
    assert result.third_party == [], result.third_party
    assert result.overlap == [], result.overlap


@pytest.mark.parametrize(
    ("speaker", "utterance", "seed"), [("367", 1, 0), ("1688", 0, 2), ("3080", 3, 0)]
)
def test_real_short_reverberant_start_is_one_voice(
    audio_models, evaldata, speaker, utterance, seed
):
    """The first 2.5 s of a track, one voice in a reverberant room: segmentation-3.0 fed the
    2.5 s zero-padded to its 10-s chunk gave P(two voices) 0.8-0.98; filled by repetition,
    < 0.1. (The benchmark's two false alarms per 1.38 h were exactly this.)"""
    from proctorbot.detection.audio_input import load_audio
    from scipy.signal import fftconvolve

    files = sorted((evaldata / SINGLE / "librispeech_test_other_10spk" / speaker).glob("*.wav"))
    x = load_audio(files[1 + utterance]).samples
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * SR)) / SR
    room = rng.standard_normal(len(t)) * np.exp(-6.9 * t / 0.5)
    room[0] = 1 / 0.3
    y = fftconvolve(x, room)[: len(x)]
    y = (y / np.abs(y).max() * 0.5).astype(np.float32)[: int(2.5 * SR)]
    probs, _ = audio_models.overlap.overlap_probability(y)
    assert probs.max() < 0.5, probs.max()


# --------------------------------------------------------------------------- diarization
def test_diarize_labels_student_and_prompter(audio_models, voices, tmp_path: Path):
    from proctorbot.detection.diarization import StudentTrackDiarizer
    from proctorbot.detection.voiceprint import enroll
    from pyannote.core import Annotation, Segment

    track = np.concatenate(
        [
            voices.student[: 8 * SR],
            _silence(0.5),
            voices.prompter,
            _silence(0.5),
            voices.student[8 * SR :],
        ]
    )
    p_start = 8.5
    p_end = p_start + len(voices.prompter) / SR
    student_print = enroll(voices.enroll, audio_models.embedder, audio_models.new_vad()).voiceprint
    result = StudentTrackDiarizer(audio_models).diarize(track, "mix", student=student_print)
    assert isinstance(result.annotation, Annotation)
    roles = {c.role for c in result.clusters}
    assert "student" in roles and "unknown" in roles, result.clusters
    unknown = result.annotation.subset(
        [lbl for lbl in result.annotation.labels() if lbl.startswith("unknown")]
    )
    found = unknown.get_timeline().support().crop(Segment(p_start, p_end)).duration()
    assert found > 0.5 * (p_end - p_start), result.clusters
    rttm = result.to_rttm()
    assert rttm.startswith("SPEAKER mix 1 ")


def test_diarize_cli_writes_rttm(voices, tmp_path: Path, monkeypatch):
    from click.testing import CliRunner
    from proctorbot.detection.audio_input import write_wav

    from proctorbot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    write_wav(tmp_path / "a.wav", np.concatenate([voices.student, voices.prompter]))
    out = CliRunner().invoke(cli, ["diarize", "a.wav", "--rttm", "out/a.rttm"])
    assert out.exit_code == 0, out.output
    lines = (tmp_path / "out" / "a.rttm").read_text().splitlines()
    assert lines and all(line.split()[0] == "SPEAKER" and line.split()[1] == "a" for line in lines)


def test_real_pyannote_sample_der(audio_models, evaldata):
    from proctorbot.detection.audio_input import load_audio
    from proctorbot.detection.diarization import StudentTrackDiarizer
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    folder = evaldata / "speech_multi" / "pyannote_sample"
    reference = next(iter(load_rttm(folder / "sample.rttm").values()))
    hypothesis = StudentTrackDiarizer(audio_models).diarize(
        load_audio(folder / "sample.wav").samples, "sample"
    )
    der = DiarizationErrorRate()(reference, hypothesis.annotation)
    assert der <= 0.15, f"DER {der:.1%}"


def test_voiceprint_round_trip_and_gaps_keep_time(audio_models, voices):
    from proctorbot.detection.audio_input import float_to_int16
    from proctorbot.detection.third_party_voice import ThirdPartyVoiceDetector
    from proctorbot.detection.voiceprint import Voiceprint, enroll

    stored = enroll(
        voices.enroll, audio_models.embedder, audio_models.new_vad()
    ).voiceprint.to_json()
    restored = Voiceprint.from_json(json.loads(json.dumps(stored)))
    assert restored.similarity(audio_models.embedder.embed(voices.student[: 3 * SR])) > 0.5
    detector = ThirdPartyVoiceDetector(audio_models, restored, session_offset=50.0)
    detector.feed(float_to_int16(voices.student[: 2 * SR]), at=50.0)
    detector.feed(float_to_int16(voices.student[2 * SR : 4 * SR]), at=55.0)  # 3 s lost in transit
    detector.finish()
    assert abs(detector.student.seconds - 7.0) < 0.01
    assert detector.speech()[-1].end > 56.0
