"""The held-apart voice set: who is tuned on and who is only reported, and how its tracks
are built (prompter turns anywhere in the track, whispered or far, through Opus, with the
examiner's echo; student-only tracks for false alarms). Used by ``voices.py --set …``.

The split is by speaker, written here once, so that no threshold is ever chosen on a voice
whose figures are reported:

* students (LibriSpeech test-other, 10 speakers): tuning = the even positions of the sorted
  folder names, held apart = the odd positions;
* prompters (LibriSpeech train-clean-100, 20 speakers): the same rule on the sorted files.

The examiner of a student is another student of the same part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from voices import (
    ALONE_CONDITIONS,
    SR,
    alone_condition,
    echo_of,
    opus_round_trip,
    rms,
    speech_piece,
    trim_silence,
)

TUNING_STUDENTS = ("1688", "2033", "2609", "3080", "367")
HELD_APART_STUDENTS = ("1998", "2414", "3005", "3331", "533")
LEVELS_DB = (-6.0, -10.0, -15.0, -20.0)
STYLES = ("near", "whisper", "far")
CHANNELS = ("direct", "opus 24 kbit/s")
MIN_TURN_GAP = 4.0  # seconds between two turns, so one finding cannot cover the next


@dataclass
class Turn:
    start: float
    end: float
    gain_db: float
    style: str
    channel: str
    over_speech: bool  # ≥ 50 % of the turn lies inside the student's answers
    speech_share: float


@dataclass
class Speaker:
    name: str
    enroll: np.ndarray
    utts: list[np.ndarray]


@dataclass
class VoiceSet:
    """One part of the split: its students and prompters (16 kHz float arrays)."""

    part: str
    students: list[Speaker]
    prompters: list[np.ndarray]
    prompter_names: list[str] = field(default_factory=list)


def load_part(evaldata: Path, part: str) -> VoiceSet:
    from proctorbot.detection.audio_input import load_audio

    if part not in ("tuning", "heldout"):
        raise ValueError(part)
    single = evaldata / "speech_single"
    names = TUNING_STUDENTS if part == "tuning" else HELD_APART_STUDENTS
    students = []
    for name in names:
        files = sorted((single / "librispeech_test_other_10spk" / name).glob("*.wav"))
        students.append(
            Speaker(name, load_audio(files[0]).samples, [load_audio(f).samples for f in files[1:]])
        )
    files = sorted((single / "librispeech_train_clean_100_20spk").glob("*.wav"))
    mine = files[0::2] if part == "tuning" else files[1::2]
    return VoiceSet(
        part,
        students,
        [trim_silence(load_audio(f).samples) for f in mine],
        [f.stem for f in mine],
    )


# ------------------------------------------------------------------ how a prompter sounds
def whispered(x: np.ndarray, rng: np.random.Generator, order: int = 16) -> np.ndarray:
    """Whisper-like speech from voiced speech: per 25-ms frame the LPC envelope is kept and
    its excitation (the residual: pitch pulses) is replaced by white noise of the same
    energy; no voicing is left, the formants stay. Below 300 Hz is cut, as in a whisper."""
    from scipy.linalg import solve_toeplitz
    from scipy.signal import butter, lfilter

    frame, hop = 400, 200
    win = np.hanning(frame)
    pre = lfilter([1.0, -0.97], [1.0], x.astype(np.float64))
    out = np.zeros(len(x) + frame)
    for i in range(0, max(1, len(x) - frame), hop):
        seg = pre[i : i + frame] * win[: len(pre[i : i + frame])]
        if len(seg) < frame:
            break
        r = np.correlate(seg, seg, "full")[frame - 1 : frame + order]
        if r[0] < 1e-8:
            continue
        r[0] *= 1.0001
        a = solve_toeplitz(r[:order], -r[1 : order + 1])
        poly = np.concatenate([[1.0], a])
        gain = np.sqrt(np.mean(lfilter(poly, [1.0], seg) ** 2))
        out[i : i + frame] += lfilter([1.0], poly, rng.standard_normal(frame) * gain) * win
    y = lfilter([1.0], [1.0, -0.97], out[: len(x)])
    b, a = butter(4, 300 / (SR / 2), btype="high")
    y = lfilter(b, a, y)
    return (y * rms(x) / max(rms(y), 1e-9)).astype(np.float32)


def in_room(x: np.ndarray, rng: np.random.Generator, rt60: float, drr_db: float) -> np.ndarray:
    """Through a synthetic room: a direct path ``drr_db`` above (near) or below (far) an
    exponentially decaying noise tail of reverberation time ``rt60``."""
    from scipy.signal import fftconvolve

    t = np.arange(int(rt60 * SR)) / SR
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    tail[: int(0.003 * SR)] = 0.0  # the first reflections come a few ms after the direct path
    tail /= np.sqrt(np.sum(tail**2))
    ir = tail.copy()
    ir[0] = 10 ** (drr_db / 20)
    y = fftconvolve(x, ir)[: len(x)]
    return (y * rms(x) / max(rms(y), 1e-9)).astype(np.float32)


def styled(x: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    if style == "near":  # beside the student, a small room
        return in_room(x, rng, rt60=0.3, drr_db=6.0)
    if style == "far":  # across the room
        return in_room(x, rng, rt60=0.6, drr_db=-6.0)
    if style == "whisper":
        return in_room(whispered(x, rng), rng, rt60=0.3, drr_db=6.0)
    raise ValueError(style)


def voiced_frames(x: np.ndarray, frame: int = 320) -> np.ndarray:
    n = len(x) // frame
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    return energy > 0.1 * max(float(energy.max()), 1e-9)


# ------------------------------------------------------------------ prompted tracks
def prompted_track(
    student: Speaker,
    prompters: list[np.ndarray],
    examiner: np.ndarray,
    rng: np.random.Generator,
    channel: str,
    turns_wanted: int,
    first_turn: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Turn]]:
    """(track, enrollment, examiner track, turns): the student's answers in random order
    with 0.8–4 s pauses, the examiner speaking 3 s in every third pause (its echo on the
    track, its own track given), and ``turns_wanted`` prompter turns of 2–4 s with onsets
    drawn uniformly over the track (≥ 4 s apart, never over the examiner's speech). Turn
    ``k`` (counted over the whole set from ``first_turn``) takes level ``LEVELS_DB[k % 4]``
    and style ``STYLES[k // 4 % 3]``, so every level meets every style."""
    order = rng.permutation(len(student.utts))
    parts, ex_parts = [], []
    inside = []  # per 20-ms frame: within one of the student's answers
    for n, i in enumerate(order):
        u = trim_silence(student.utts[i])
        parts.append(u)
        ex_parts.append(np.zeros(len(u), np.float32))
        pause = float(rng.uniform(0.8, 4.0))
        gap = np.zeros(int(pause * SR), np.float32)
        ex_gap = gap.copy()
        if n % 3 == 2:
            gap = np.zeros(int((pause + 3.5) * SR), np.float32)
            ex_gap = gap.copy()
            a = int(rng.integers(0, max(1, len(examiner) - 3 * SR)))
            talk = examiner[a : a + 3 * SR]
            ex_gap[SR // 4 : SR // 4 + len(talk)] = talk
        parts.append(gap)
        ex_parts.append(ex_gap)
        inside += [True] * (len(u) // 320) + [False] * (len(gap) // 320)
    clean = np.concatenate(parts)
    ex_track = np.concatenate(ex_parts)
    level = rms(np.concatenate(student.utts))
    voiced = np.asarray(inside + [False] * (len(clean) // 320 - len(inside)))
    ex_voiced = voiced_frames(ex_track) if ex_track.any() else np.zeros_like(voiced)
    seconds = len(clean) / SR
    track = clean.copy()
    turns: list[Turn] = []
    for _ in range(200 * turns_wanted):  # rejection sampling of onsets
        if len(turns) == turns_wanted:
            break
        dur = float(rng.uniform(2.0, 4.0))
        start = float(rng.uniform(0.5, seconds - dur - 0.5))
        fa, fb = int(start / 0.02), int((start + dur) / 0.02)
        if any(abs(start - t.start) < MIN_TURN_GAP + 4.0 for t in turns):
            continue
        if ex_voiced[max(0, fa - 25) : fb + 25].any():
            continue
        k = first_turn + len(turns)
        gain, style = LEVELS_DB[k % len(LEVELS_DB)], STYLES[k // len(LEVELS_DB) % len(STYLES)]
        p = prompters[int(rng.integers(len(prompters)))]
        piece = speech_piece(p, dur, float(rng.uniform(0.0, max(0.0, len(p) / SR - dur))))
        piece = styled(piece, style, rng)
        a = int(start * SR)
        n = min(len(piece), len(track) - a)
        track[a : a + n] += piece[:n] * level / rms(piece) * 10 ** (gain / 20)
        share = float(voiced[fa:fb].mean()) if fb > fa else 0.0
        turns.append(Turn(start, start + n / SR, gain, style, channel, share >= 0.5, share))
    track = track + echo_of(ex_track)
    enroll = student.enroll
    if channel == "opus 24 kbit/s":
        track, enroll = opus_round_trip(track), opus_round_trip(enroll)
    elif channel != "direct":
        raise ValueError(channel)
    turns.sort(key=lambda t: t.start)
    return track.astype(np.float32), enroll, ex_track, turns


@dataclass
class PromptedMixture:
    student: str
    index: int
    track: np.ndarray
    enroll: np.ndarray
    examiner: np.ndarray
    turns: list[Turn]


def prompted_mixtures(
    part: VoiceSet, mixtures: int, turns_per_mixture: int, seed: int
) -> list[PromptedMixture]:
    """``mixtures`` tracks per student, channels alternating direct / Opus."""
    rng = np.random.default_rng(seed)
    out: list[PromptedMixture] = []
    k = 0
    for s_idx, student in enumerate(part.students):
        examiner = part.students[(s_idx + 1) % len(part.students)]
        ex_audio = np.concatenate(examiner.utts[:4])
        for m in range(mixtures):
            channel = CHANNELS[m % len(CHANNELS)]
            track, enroll, ex_track, turns = prompted_track(
                student, part.prompters, ex_audio, rng, channel, turns_per_mixture, k
            )
            k += len(turns)
            out.append(PromptedMixture(student.name, m, track, enroll, ex_track, turns))
    return out


@dataclass
class AloneTrack:
    student: str
    condition: str
    track: np.ndarray
    enroll: np.ndarray
    examiner: np.ndarray | None


def alone_tracks(part: VoiceSet, hours: float, seed: int) -> list[AloneTrack]:
    """Student-only tracks in the six conditions of ``voices.py`` (clean, Opus, noise, reverb,
    quiet with short pauses, examiner's echo with double talk), round after round (a new
    order of answers, new noise, a new room each round) until ``hours`` are reached."""
    rng = np.random.default_rng(seed)
    out: list[AloneTrack] = []
    total = 0.0
    while total < hours * 3600:
        for s_idx, student in enumerate(part.students):
            examiner = part.students[(s_idx + 1) % len(part.students)]
            ex_audio = np.concatenate(examiner.utts[:4])
            for name in ALONE_CONDITIONS:
                track, enroll, ex_track = alone_condition(
                    name, student.utts, student.enroll, ex_audio, rng
                )
                out.append(AloneTrack(student.name, name, track, enroll, ex_track))
                total += len(track) / SR
                if total >= hours * 3600:
                    return out
    return out
