"""Audio detection figures on real speech from ../shared/evaldata (internal evaluation only).

Prints: recall of prompter turns ≥ 2 s (student + prompter at −6/−10/−15 dB, in pauses and
over the student's speech, examiner echo present; 3 mixtures per speaker), false alarms per
hour on ≈ 1.3 h of student-only tracks (clean, through Opus at 24 kbit/s, with room noise,
with reverb, quiet with short pauses, with the examiner's echo and double talk), DER (pyannote.metrics) on the pyannote sample and the AMI debug excerpts, and the
real-time factors. Run: ``.venv/bin/python benchmarks/voices.py [--quick] [--threshold 0.75]``.

``--set heldout`` reports on the held-apart speakers instead (turns anywhere in the track,
−6/−10/−15/−20 dB, whispered / near / far prompters, Opus, the examiner's echo; ≥ 3 h of
student-only tracks; intervals), ``--set tuning-cv`` chooses thresholds by leave-one-speaker-
out on the tuning speakers: ``voice_sets.py`` (the split), ``voices_heldout.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from proctorbot.detection.events import DetectorEvent

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
warnings.filterwarnings("ignore")

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
SR = 16000
GAINS_DB = (-6.0, -10.0, -15.0)


@dataclass
class Turn:
    start: float
    end: float
    gain_db: float
    in_pause: bool


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def echo_of(examiner: np.ndarray, delay: float = 0.12, gain_db: float = -10.0) -> np.ndarray:
    from scipy.signal import butter, lfilter

    b, a = butter(4, [300 / (SR / 2), 3400 / (SR / 2)], btype="band")
    y = lfilter(b, a, examiner).astype(np.float32)
    y = np.concatenate([np.zeros(int(delay * SR), np.float32), y])[: len(examiner)]
    return (y * 10 ** (gain_db / 20) * rms(examiner) / max(rms(y), 1e-9)).astype(np.float32)


def speech_piece(x: np.ndarray, seconds: float, after: float, frame: int = 320) -> np.ndarray:
    """``seconds`` of ``x`` from ``after`` s on, moved forward until ≥ 80 % of its 20-ms frames
    are voiced: a "2-s turn" must hold speech, not a pause inside the sentence."""
    n = len(x) // frame
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    voiced = energy > 0.1 * energy.max()
    width = int(seconds * SR) // frame
    best, best_share = int(after * SR) // frame, -1.0
    for i in range(best, max(best + 1, n - width + 1)):
        share = float(voiced[i : i + width].mean()) if width else 0.0
        if share > best_share:
            best, best_share = i, share
        if share >= 0.8:
            break
    return x[best * frame : best * frame + width * frame]


def build_mixture(
    student_utts: list[np.ndarray],
    prompters: list[np.ndarray],
    examiner: np.ndarray,
    rng: np.random.Generator,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[Turn]]:
    """Student speech with pauses; prompter turns in some pauses and over speech; echo in one pause."""
    level = rms(np.concatenate(student_utts))
    parts: list[np.ndarray] = []
    plan: list[tuple[float, str]] = []  # (pause start, use)
    t = 0.0
    uses = ["prompter", "echo", "prompter", "none", "prompter"]
    for i, utt in enumerate(student_utts):
        parts.append(utt)
        t += len(utt) / SR
        if i < len(student_utts) - 1:
            use = uses[i % len(uses)]
            pause = 5.0 if use != "none" else 2.0
            plan.append((t, use))
            parts.append(np.zeros(int(pause * SR), np.float32))
            t += pause
    track = np.concatenate(parts)
    examiner_track = np.zeros_like(track)
    turns: list[Turn] = []
    k = 0
    for start, use in plan:
        if use == "prompter":
            p = prompters[k % len(prompters)]
            dur = float(rng.uniform(2.0, 4.0))
            gain = GAINS_DB[k % len(GAINS_DB)]
            a = int((start + 0.5) * SR)
            seg = speech_piece(p, dur, 0.0)
            track[a : a + len(seg)] += seg * level / rms(seg) * 10 ** (gain / 20)
            turns.append(Turn(start + 0.5, start + 0.5 + len(seg) / SR, gain, True))
            k += 1
        elif use == "echo":
            a = int((start + 0.5) * SR)
            seg = examiner[: 4 * SR]
            examiner_track[a : a + len(seg)] = seg
    track += echo_of(examiner_track)
    # prompter whispering over the student's own speech
    for j in range(2):
        p = prompters[(k + j) % len(prompters)]
        dur = float(rng.uniform(2.0, 4.0))
        gain = GAINS_DB[(seed + j) % len(GAINS_DB)]
        speech_at = (
            rng.uniform(1.0, max(1.5, len(student_utts[0]) / SR - dur - 0.5)) if j == 0 else None
        )
        if speech_at is None:
            offset = sum(len(u) for u in student_utts[:1]) / SR + 5.0  # the second utterance
            speech_at = offset + 1.0
        a = int(speech_at * SR)
        seg = speech_piece(p, dur, 4.0)
        if len(seg) < 2 * SR or a + len(seg) > len(track):
            continue
        track[a : a + len(seg)] += seg * level / rms(seg) * 10 ** (gain / 20)
        turns.append(Turn(speech_at, speech_at + len(seg) / SR, gain, False))
    return track, examiner_track, turns


def trim_silence(x: np.ndarray, frame: int = 320) -> np.ndarray:
    """Cut leading/trailing silence so a "2-s turn" holds 2 s of speech."""
    n = len(x) // frame
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.1 * energy.max())
    if loud.size == 0:
        return x
    return x[loud[0] * frame : (loud[-1] + 1) * frame]


def opus_round_trip(x: np.ndarray, bitrate: str = "24k") -> np.ndarray:
    """Through the real Opus codec (ffmpeg libopus), as a browser's microphone reaches the bot."""
    import subprocess

    encode = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SR), "-ac", "1", "-i", "-",
         "-c:a", "libopus", "-b:a", bitrate, "-f", "ogg", "-"],
        input=x.astype(np.float32).tobytes(), capture_output=True, check=True,
    )  # fmt: skip
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "f32le", "-ar", str(SR), "-ac", "1", "-"],
        input=encode.stdout, capture_output=True, check=True,
    )  # fmt: skip
    y = np.frombuffer(decode.stdout, np.float32)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].copy()


def with_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float = 20.0) -> np.ndarray:
    """Brown-ish room/fan noise at ``snr_db`` below the speech level."""
    noise = np.cumsum(rng.standard_normal(len(x))).astype(np.float32)
    noise -= np.convolve(noise, np.ones(801, np.float32) / 801, mode="same")  # drop the drift
    return (x + noise * rms(x) / rms(noise) * 10 ** (-snr_db / 20)).astype(np.float32)


def with_reverb(x: np.ndarray, rng: np.random.Generator, rt60: float = 0.5) -> np.ndarray:
    """A laptop in a small room: exponentially decaying noise impulse response."""
    from scipy.signal import fftconvolve

    t = np.arange(int(rt60 * SR)) / SR
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / 0.3
    y = fftconvolve(x, ir.astype(np.float32))[: len(x)]
    return (y * rms(x) / rms(y)).astype(np.float32)


def student_alone(
    utts: list[np.ndarray], rng: np.random.Generator, pause: float = 1.0
) -> np.ndarray:
    order = rng.permutation(len(utts))
    gaps = rng.uniform(0.4, 2.5, len(utts)) if pause < 0 else np.full(len(utts), pause)
    return np.concatenate(
        [
            np.concatenate([utts[i], np.zeros(int(g * SR), np.float32)])
            for i, g in zip(order, gaps, strict=True)
        ]
    )


def student_with_echo(
    utts: list[np.ndarray], examiner: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The student alone, the examiner's voice coming back through the speakers: in pauses,
    and one second of double talk over the end of every third answer."""
    parts, ex_parts = [], []
    for i in rng.permutation(len(utts)):
        u = utts[i]
        parts.append(u)
        ex_parts.append(np.zeros(len(u), np.float32))
        if len(parts) % 3 == 0:  # examiner starts 1 s before the student stops
            a = max(0, int(rng.integers(0, max(1, len(examiner) - 4 * SR))))
            talk = examiner[a : a + 4 * SR]
            ex_parts[-1][-SR:] = talk[:SR]
            parts.append(np.zeros(len(talk), np.float32))
            ex_parts.append(np.concatenate([talk[SR:], np.zeros(SR, np.float32)]))
        else:
            a = max(0, int(rng.integers(0, max(1, len(examiner) - 3 * SR))))
            talk = examiner[a : a + 3 * SR]
            parts.append(np.zeros(len(talk) + SR, np.float32))
            ex_parts.append(
                np.concatenate([np.zeros(SR // 2, np.float32), talk, np.zeros(SR // 2, np.float32)])
            )
    track, ex_track = np.concatenate(parts), np.concatenate(ex_parts)
    return (track + echo_of(ex_track)).astype(np.float32), ex_track


# name -> (student-only track, examiner track or None); each a realistic way a student's
# own microphone sounds. Together ≈ 1.3 h over the 10 speakers.
ALONE_CONDITIONS = (
    "clean",
    "opus 24 kbit/s",
    "noise 20 dB",
    "reverb 0.5 s",
    "quiet -12 dB, short pauses",
    "examiner echo + double talk",
)


def alone_condition(
    name: str,
    utts: list[np.ndarray],
    enroll: np.ndarray,
    examiner: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(student-only track, enrollment, examiner track or None). The enrollment passes through
    the same microphone, room and codec as the track, as the checklist's name step does."""
    seed = int(rng.integers(1 << 31))

    def channel(x: np.ndarray) -> np.ndarray:  # same room / noise source for both
        local = np.random.default_rng(seed)
        if name == "opus 24 kbit/s":
            return opus_round_trip(x)
        if name == "noise 20 dB":
            return with_noise(x, local)
        if name == "reverb 0.5 s":
            return with_reverb(x, local)
        if name == "quiet -12 dB, short pauses":
            return (x * 10 ** (-12 / 20)).astype(np.float32)
        return x

    if name == "examiner echo + double talk":
        track, ex_track = student_with_echo(utts, examiner, rng)
        return track, enroll, ex_track
    if name not in ALONE_CONDITIONS:
        raise ValueError(name)
    pause = -1.0 if name.startswith("quiet") else 1.0
    return channel(student_alone(utts, rng, pause)), channel(enroll), None


def hit(found: list[dict[str, float]], turn: Turn) -> bool:
    return any(f["start"] < turn.end and f["end"] > turn.start for f in found)


def detection_delay(events: list[DetectorEvent], turn: Turn) -> float | None:
    """Seconds from the turn's onset to the first event that covers it (None: no event of its
    own — missed, or part of a finding that was already open before the turn began)."""
    delays = [
        float(e.details["detected_at"]) - turn.start
        for e in events
        if e.start < turn.end and e.end > turn.start and e.details["detected_at"] >= turn.start
    ]
    return min(delays) if delays else None


def whole_analysis_rtf(models, settings, speakers, prompters, rng) -> int:  # noqa: ANN001
    """One session as the bot would process it: a ~3-min student track (3 speakers' mixtures
    back to back), the live detector with the examiner track, then diarization and the
    transcript of the student track. Wall and CPU core-seconds per audio second, per stage."""
    from proctorbot.detection.audio_analysis import analyze_samples
    from proctorbot.detection.audio_input import load_audio
    from proctorbot.detection.diarization import StudentTrackDiarizer
    from proctorbot.detection.transcription import build_transcriber
    from proctorbot.detection.voiceprint import enroll

    tracks, examiners = [], []
    for idx, spk in enumerate(speakers[:3]):
        files = sorted(spk.glob("*.wav"))
        utts = [load_audio(f).samples for f in files[1:7]]
        examiner = load_audio(sorted(speakers[(idx + 1) % len(speakers)].glob("*.wav"))[-1]).samples
        track, ex_track, _ = build_mixture(utts, prompters[idx % 7 :: 3], examiner, rng, idx)
        tracks.append(track)
        examiners.append(ex_track)
    track, ex_track = np.concatenate(tracks), np.concatenate(examiners)
    enroll_audio = load_audio(sorted(speakers[0].glob("*.wav"))[0]).samples
    seconds = len(track) / SR
    diarizer = StudentTrackDiarizer(models)
    _ = diarizer.pipeline
    transcriber = build_transcriber(settings)
    load0 = os.getloadavg()[0]
    stages: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        stages[name] = (time.perf_counter() - t0, time.process_time() - c0)
        return out

    analysis = timed(
        "live detector", lambda: analyze_samples(models, track, enroll_audio, ex_track)
    )
    voiceprint = enroll(enroll_audio, models.embedder, models.new_vad()).voiceprint

    # after the session, as handover/audio_pass.py runs them: diarization and transcripts side
    # by side (torch on one core, CTranslate2 on the other)
    walls: dict[str, float] = {}

    def alone(name: str, fn):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = fn()
        walls[name] = time.perf_counter() - t0
        return out

    def side_by_side():  # noqa: ANN202
        with ThreadPoolExecutor(2) as pool:
            dia = pool.submit(
                alone, "diarization", lambda: diarizer.diarize(track, "rtf", voiceprint)
            )
            asr = pool.submit(alone, "transcription", lambda: transcriber.transcribe(track, "en"))
            dia.result()
            return asr.result()

    transcript = timed("diarization | transcription", side_by_side)
    wall = sum(w for w, _ in stages.values())
    cpu = sum(c for _, c in stages.values())
    for name, (w, c) in stages.items():
        print(f"  {name}: RTF wall {w / seconds:.3f}, CPU {c / seconds:.3f} core-s per s")
    for name, w in walls.items():
        print(f"    {name} in its thread: wall {w / seconds:.3f}")
    print(
        f"whole analysis RTF ({seconds:.0f} s of audio, {len(analysis.speech)} speech segments, "
        f"{len(transcript.text.split())} words): wall {wall / seconds:.3f}, CPU {cpu / seconds:.3f} "
        f"core-seconds per second; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}, "
        f"torch threads {__import__('torch').get_num_threads()}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 speakers, sample + 4 AMI files")
    parser.add_argument(
        "--threshold", type=float, default=None, help="override diarization threshold"
    )
    parser.add_argument("--min-cluster-size", type=int, default=None)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["voices", "alone", "der", "asr"],
        help="parts to skip; 'alone' skips the student-only false-alarm tracks",
    )
    parser.add_argument(
        "--rtf-only",
        action="store_true",
        help="only the whole-analysis real-time factor (detector + diarization + transcript), per stage",
    )
    parser.add_argument(
        "--set",
        choices=["classic", "heldout", "tuning-cv"],
        default="classic",
        help="classic: the set above; heldout: figures on the held-apart speakers "
        "(voice_sets.py); tuning-cv: thresholds by leave-one-speaker-out on the tuning speakers",
    )
    parser.add_argument("--mixtures", type=int, default=6, help="prompted tracks per student")
    parser.add_argument("--turns", type=int, default=6, help="prompter turns per track")
    parser.add_argument(
        "--fa-hours", type=float, default=3.0, help="student-only hours (heldout, tuning-cv)"
    )
    parser.add_argument("--max-fa", type=float, default=1.0, help="tuning-cv: false alarms/h")
    parser.add_argument(
        "--second-voice",
        type=float,
        default=None,
        help="second-voice head threshold (detection/second_voice.py; 0 = off)",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="heldout: also without the second-voice head"
    )
    parser.add_argument(
        "--grid",
        nargs="*",
        default=None,
        help="tuning-cv: NAME=v1,v2 … (ThirdPartyConfig fields) replacing the default grid",
    )
    parser.add_argument(
        "--config", nargs="*", default=None, help="NAME=VALUE … (ThirdPartyConfig fields)"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    if not EVALDATA.is_dir():
        print(f"no evaluation data at {EVALDATA}", file=sys.stderr)
        return 1

    import torch
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.audio_analysis import analyze_samples
    from proctorbot.detection.audio_input import load_audio
    from proctorbot.detection.audio_models import AudioModels

    torch.set_num_threads(2)
    settings = DetectionSettings(torch_threads=2)
    models = AudioModels(settings)
    rng = np.random.default_rng(7)
    single = EVALDATA / "speech_single"
    speakers = sorted(p for p in (single / "librispeech_test_other_10spk").iterdir() if p.is_dir())
    prompters = [
        trim_silence(load_audio(f).samples)
        for f in sorted((single / "librispeech_train_clean_100_20spk").glob("*.wav"))
    ]
    if args.quick:
        speakers = speakers[:3]
    _ = models.embedder, models.overlap  # load before timing
    if args.rtf_only:
        return whole_analysis_rtf(models, settings, speakers, prompters, rng)
    if args.set != "classic":
        import voices_heldout
        from proctorbot.detection.third_party_voice import ThirdPartyConfig

        config = ThirdPartyConfig(
            similarity_threshold=settings.voice_similarity_threshold,
            overlap_threshold=settings.overlap_threshold,
        )
        if args.second_voice is not None:
            config = replace(config, second_voice_threshold=args.second_voice)
        for item in args.config or []:  # NAME=VALUE
            name, _, value = item.partition("=")
            config = replace(config, **{name: float(value)})
        return voices_heldout.main(models, config, args)

    if "voices" not in args.skip:
        turns_total = turns_hit = 0
        delays: list[float] = []
        by_kind: dict[str, list[int]] = {}
        fa_by: dict[str, list[float]] = {name: [0, 0.0] for name in ALONE_CONDITIONS}
        analysed = 0.0
        spent = 0.0
        cpu = 0.0
        mixtures = 1 if args.quick else 3
        for idx, spk in enumerate(speakers):
            files = sorted(spk.glob("*.wav"))
            enroll = load_audio(files[0]).samples
            utts = [load_audio(f).samples for f in files[1:]]
            examiner = load_audio(
                sorted(speakers[(idx + 1) % len(speakers)].glob("*.wav"))[-1]
            ).samples
            hits_here = turns_here = 0
            for m in range(mixtures):
                # a different slice of the student's answers and other prompters each time
                mix_utts = [utts[(3 * m + j) % len(utts)] for j in range(6)]
                track, examiner_track, turns = build_mixture(
                    mix_utts, prompters[(idx + 7 * m) % 20 :: 3], examiner, rng, idx + m
                )
                t0, c0 = time.perf_counter(), time.process_time()
                result = analyze_samples(models, track, enroll, examiner_track)
                spent += time.perf_counter() - t0
                cpu += time.process_time() - c0
                analysed += len(track) / SR
                found = result.third_party + result.overlap
                for turn in turns:
                    ok = hit(found, turn)
                    delay = detection_delay(result.events, turn) if ok else None
                    if delay is not None:
                        delays.append(delay)
                    if not ok:
                        print(f"    missed {spk.name} mixture {m}: {turn}", file=sys.stderr)
                    turns_total += 1
                    turns_hit += ok
                    hits_here += ok
                    turns_here += 1
                    key = f"{'pause' if turn.in_pause else 'over speech'} {turn.gain_db:+.0f} dB"
                    by_kind.setdefault(key, [0, 0])
                    by_kind[key][0] += ok
                    by_kind[key][1] += 1
            # student-only: all the speaker's answers, no prompter, in several conditions
            alarms = []
            for name in ALONE_CONDITIONS[: 2 if args.quick else None]:
                # built even when skipped: the random draws keep the next mixtures the same
                alone, heard, ex_alone = alone_condition(name, utts, enroll, examiner, rng)
                if "alone" in args.skip:
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                solo = analyze_samples(models, alone, heard, ex_alone)
                spent += time.perf_counter() - t0
                cpu += time.process_time() - c0
                analysed += len(alone) / SR
                fa_by[name][0] += len(solo.third_party) + len(solo.overlap)
                fa_by[name][1] += len(alone) / SR
                for f in solo.third_party + solo.overlap:
                    alarms.append(f"{name} {f['start']:.1f}-{f['end']:.1f} s")
            print(
                f"  {spk.name}: turns hit {hits_here}/{turns_here}, false alarms alone "
                f"{len(alarms)} {alarms}",
                file=sys.stderr,
            )
        print(
            f"prompter turns >= 2 s: recall {turns_hit / max(1, turns_total):.1%} ({turns_hit}/{turns_total})"
        )
        for key in sorted(by_kind):
            h, n = by_kind[key]
            print(f"  {key}: {h}/{n}")
        if delays:
            d = np.array(delays)
            print(
                f"onset to event ({len(d)} turns with an event of their own): median {np.median(d):.1f} s, "
                f"90th percentile {np.quantile(d, 0.9):.1f} s, max {d.max():.1f} s, "
                f"over 5 s: {int((d > 5.0).sum())}"
            )
        if "alone" in args.skip:
            print("false alarms on student-only tracks: skipped")
        else:
            fa = sum(int(n) for n, _ in fa_by.values())
            fa_seconds = sum(sec for _, sec in fa_by.values())
            print(
                f"false alarms on student-only tracks: {fa} in {fa_seconds / 3600:.3f} h "
                f"= {fa / (fa_seconds / 3600):.2f} per hour"
            )
            for name, (n, sec) in fa_by.items():
                if sec:
                    print(f"  {name}: {int(n)} in {sec / 60:.1f} min")
        print(
            f"third-party detector RTF: wall {spent / analysed:.3f}, CPU {cpu / analysed:.3f} "
            f"core-seconds per second ({analysed:.0f} s of audio, load average {os.getloadavg()[0]:.1f})"
        )

    if "der" not in args.skip:
        from proctorbot.detection.diarization import DEFAULT_PARAMETERS, StudentTrackDiarizer
        from pyannote.database.util import load_rttm, load_uem
        from pyannote.metrics.diarization import DiarizationErrorRate

        if args.threshold is not None:
            DEFAULT_PARAMETERS["clustering"]["threshold"] = args.threshold
        if args.min_cluster_size is not None:
            DEFAULT_PARAMETERS["clustering"]["min_cluster_size"] = args.min_cluster_size
        diarizer = StudentTrackDiarizer(models)
        multi = EVALDATA / "speech_multi"
        sample_metric = DiarizationErrorRate()
        ref = load_rttm(multi / "pyannote_sample" / "sample.rttm")
        audio = load_audio(multi / "pyannote_sample" / "sample.wav").samples
        t0 = time.perf_counter()
        hyp = diarizer.diarize(audio, "sample").annotation
        dia_time = time.perf_counter() - t0
        dia_audio = len(audio) / SR
        sample_metric(next(iter(ref.values())), hyp)
        print(f"DER pyannote sample: {abs(sample_metric):.1%}")
        ami = multi / "pyannote_ami_debug"
        refs, uems = {}, {}
        for part in ("train", "development", "test"):
            refs.update(load_rttm(ami / f"debug.{part}.rttm"))
            uems.update(load_uem(ami / f"debug.{part}.uem"))
        names = sorted(refs)[:4] if args.quick else sorted(refs)
        ami_metric = DiarizationErrorRate()
        for name in names:
            audio = load_audio(ami / f"{name}.wav").samples
            t0 = time.perf_counter()
            hyp = diarizer.diarize(audio, name).annotation
            dia_time += time.perf_counter() - t0
            dia_audio += len(audio) / SR
            ami_metric(refs[name], hyp, uem=uems.get(name))
        print(f"DER AMI debug excerpts ({len(names)} files): {abs(ami_metric):.1%}")
        print(f"diarization RTF: {dia_time / dia_audio:.3f}")

    if "asr" not in args.skip:
        from proctorbot.detection.transcription import build_transcriber

        transcriber = build_transcriber(settings)
        audio = load_audio(EVALDATA / "speech_multi" / "pyannote_sample" / "sample.wav").samples
        t0 = time.perf_counter()
        transcriber.transcribe(audio, "en")
        print(
            f"transcription RTF (faster-whisper base, int8, beam 1): {(time.perf_counter() - t0) / (len(audio) / SR):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
