"""``voices.py --set heldout|tuning-cv``: the third-party voice detector on the held-apart
speakers (figures to report), and thresholds chosen by leave-one-speaker-out
cross-validation on the tuning speakers (never on the reported figures).

The split and the tracks are in ``voice_sets.py``. Reported: recall of prompter turns with
a 95 % Wilson interval, in pauses and over the student's speech, per level, per style
(near / whispered / far) and per channel (direct / Opus 24 kbit/s); false alarms per hour
on student-only tracks with an exact Poisson 95 % interval; onset → event delay; the
detector's CPU core-seconds per second of audio.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from voice_sets import (
    HELD_APART_STUDENTS,
    LEVELS_DB,
    TUNING_STUDENTS,
    AloneTrack,
    PromptedMixture,
    alone_tracks,
    load_part,
    prompted_mixtures,
)
from voices import EVALDATA, SR, detection_delay, hit


# ------------------------------------------------------------------ intervals
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def poisson_rate(k: int, hours: float) -> tuple[float, float]:
    """Exact (Garwood) 95 % interval of a Poisson rate: k events in ``hours``."""
    from scipy.stats import chi2

    lo = chi2.ppf(0.025, 2 * k) / 2 if k else 0.0
    hi = chi2.ppf(0.975, 2 * k + 2) / 2
    return (lo / hours, hi / hours)


def pct(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / max(1, n):.1%} [95 % CI {lo:.1%}–{hi:.1%}]"


# ------------------------------------------------------------------ model outputs cached
def _key(*arrays: np.ndarray, salt: bytes = b"") -> bytes:
    h = hashlib.blake2b(salt, digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.digest()


class _CachedEmbedder:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.min_samples = inner.min_samples
        self.cache: dict[bytes, np.ndarray] = {}

    def embed(self, audio: np.ndarray) -> np.ndarray:
        k = _key(audio)
        if k not in self.cache:
            self.cache[k] = self.inner.embed(audio)
        return self.cache[k]

    def embed_batch(self, batch: Any) -> Any:
        import torch

        rows = batch.numpy()
        keys = [_key(r) for r in rows]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        if missing:
            out = self.inner.embed_batch(batch[missing]).numpy()
            for i, e in zip(missing, out, strict=True):
                self.cache[keys[i]] = e
        return torch.from_numpy(np.stack([self.cache[k] for k in keys]))


class _CachedOverlap:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cache: dict[bytes, Any] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def cached(samples: np.ndarray, *args: Any) -> Any:
            k = _key(samples, salt=name.encode())
            if k not in self.cache:
                self.cache[k] = method(samples, *args)
            return self.cache[k]

        return cached


class _CachedVad:
    """A StreamingVad whose probabilities for a sequence of chunks already seen come from
    the cache (the key chains every chunk fed so far, so the recurrent state matches)."""

    def __init__(self, models: Any, cache: dict[bytes, tuple[list[float], np.ndarray]]) -> None:
        self._models = models
        self._cache = cache
        self._real: Any = None
        self._fed: list[np.ndarray] = []
        self._chain = b""
        self.probs: list[float] = []
        self._pending = np.zeros(0, np.float32)

    def feed(self, samples: np.ndarray) -> None:
        self._fed.append(samples)
        self._chain = _key(samples, salt=self._chain)
        hit_ = self._cache.get(self._chain)
        if hit_ is not None and self._real is None:
            self.probs, self._pending = list(hit_[0]), hit_[1]
            return
        if self._real is None:  # first miss: replay what came before on a real VAD
            self._real = self._models.new_vad()
            for chunk in self._fed[:-1]:
                self._real.feed(chunk)
        self._real.feed(samples)
        self.probs, self._pending = self._real.probs, self._real._pending
        self._cache[self._chain] = (list(self.probs), self._pending.copy())

    def __getattr__(self, name: str) -> Any:
        from proctorbot.detection.speech_activity import StreamingVad

        return getattr(StreamingVad, name).__get__(self)


class CachingModels:
    """``AudioModels`` whose model calls are remembered by their input: a threshold grid
    over the same tracks costs the models once."""

    def __init__(self, models: Any) -> None:
        self.inner = models
        self.settings = models.settings
        self.embedder = _CachedEmbedder(models.embedder)
        self.overlap = _CachedOverlap(models.overlap)
        self._vad_cache: dict[bytes, tuple[list[float], np.ndarray]] = {}

    def new_vad(self) -> Any:
        return _CachedVad(self.inner, self._vad_cache)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# ------------------------------------------------------------------ one pass over a set
@dataclass
class TurnResult:
    student: str
    mixture: int
    start: float
    gain_db: float
    style: str
    channel: str
    over_speech: bool
    found: bool
    delay: float | None


@dataclass
class AloneResult:
    student: str
    condition: str
    seconds: float
    alarms: list[str]


@dataclass
class SetResult:
    turns: list[TurnResult] = field(default_factory=list)
    alone: list[AloneResult] = field(default_factory=list)
    cpu: float = 0.0
    wall: float = 0.0
    audio: float = 0.0


def run_set(
    models: Any,
    config: Any,
    mixtures: list[PromptedMixture],
    alones: list[AloneTrack],
    verbose: bool = False,
) -> SetResult:
    from proctorbot.detection.audio_analysis import analyze_samples

    out = SetResult()
    for mix in mixtures:
        t0, c0 = time.perf_counter(), time.process_time()
        result = analyze_samples(models, mix.track, mix.enroll, mix.examiner, config)
        out.wall += time.perf_counter() - t0
        out.cpu += time.process_time() - c0
        out.audio += len(mix.track) / SR
        found = result.third_party + result.overlap
        for turn in mix.turns:
            ok = hit(found, turn)
            delay = detection_delay(result.events, turn) if ok else None
            out.turns.append(
                TurnResult(
                    mix.student,
                    mix.index,
                    turn.start,
                    turn.gain_db,
                    turn.style,
                    turn.channel,
                    turn.over_speech,
                    ok,
                    delay,
                )
            )
            if verbose and not ok:
                print(f"    missed {mix.student}#{mix.index}: {turn}", file=sys.stderr)
    for alone in alones:
        t0, c0 = time.perf_counter(), time.process_time()
        result = analyze_samples(models, alone.track, alone.enroll, alone.examiner, config)
        out.wall += time.perf_counter() - t0
        out.cpu += time.process_time() - c0
        seconds = len(alone.track) / SR
        out.audio += seconds
        alarms = [f"{f['start']:.1f}-{f['end']:.1f} s" for f in result.third_party + result.overlap]
        out.alone.append(AloneResult(alone.student, alone.condition, seconds, alarms))
        if verbose and alarms:
            print(f"    false alarm {alone.student} {alone.condition}: {alarms}", file=sys.stderr)
    return out


def figures(res: SetResult, students: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Recall and false alarms (with intervals) over ``students`` (all when None)."""
    turns = [t for t in res.turns if students is None or t.student in students]
    alone = [a for a in res.alone if students is None or a.student in students]

    def cell(items: list[TurnResult]) -> dict[str, Any]:
        k, n = sum(t.found for t in items), len(items)
        lo, hi = wilson(k, n)
        return {"found": k, "turns": n, "recall": k / n if n else None, "ci95": [lo, hi]}

    out: dict[str, Any] = {"overall": cell(turns)}
    for where, flag in (("in pauses", False), ("over speech", True)):
        sub = [t for t in turns if t.over_speech == flag]
        out[where] = cell(sub)
        for level in LEVELS_DB:
            out[f"{where} {level:+.0f} dB"] = cell([t for t in sub if t.gain_db == level])
    for level in LEVELS_DB:
        out[f"{level:+.0f} dB"] = cell([t for t in turns if t.gain_db == level])
    for style in sorted({t.style for t in turns}):
        out[f"style {style}"] = cell([t for t in turns if t.style == style])
    for channel in sorted({t.channel for t in turns}):
        out[f"channel {channel}"] = cell([t for t in turns if t.channel == channel])
    alarms = sum(len(a.alarms) for a in alone)
    hours = sum(a.seconds for a in alone) / 3600
    out["false_alarms"] = {
        "count": alarms,
        "hours": hours,
        "per_hour": alarms / hours if hours else None,
        "ci95": list(poisson_rate(alarms, hours)) if hours else None,
        "by_condition": {
            c: [
                sum(len(a.alarms) for a in alone if a.condition == c),
                sum(a.seconds for a in alone if a.condition == c) / 3600,
            ]
            for c in sorted({a.condition for a in alone})
        },
    }
    delays = np.array([t.delay for t in turns if t.delay is not None])
    out["delay"] = (
        {
            "turns": int(len(delays)),
            "median": float(np.median(delays)),
            "p90": float(np.quantile(delays, 0.9)),
            "max": float(delays.max()),
            "over_5s": int((delays > 5.0).sum()),
        }
        if len(delays)
        else None
    )
    return out


def print_figures(fig: dict[str, Any], res: SetResult) -> None:
    for key, c in fig.items():
        if isinstance(c, dict) and "turns" in c and "found" in c:
            print(f"  {key}: {pct(c['found'], c['turns'])}")
    fa = fig["false_alarms"]
    if fa["hours"]:
        lo, hi = fa["ci95"]
        print(
            f"  false alarms on student-only tracks: {fa['count']} in {fa['hours']:.2f} h = "
            f"{fa['per_hour']:.2f} per hour [95 % CI {lo:.2f}–{hi:.2f}]"
        )
        for c, (n, h) in fa["by_condition"].items():
            print(f"    {c}: {n} in {h * 60:.0f} min")
    d = fig["delay"]
    if d:
        print(
            f"  onset to event ({d['turns']} turns with an event of their own): median "
            f"{d['median']:.1f} s, 90th percentile {d['p90']:.1f} s, max {d['max']:.1f} s, "
            f"over 5 s: {d['over_5s']}"
        )
    if res.audio and res.cpu:
        print(
            f"  detector: {res.cpu / res.audio:.3f} CPU core-s per s of audio, wall "
            f"{res.wall / res.audio:.3f} ({res.audio:.0f} s of audio, load average "
            f"{os.getloadavg()[0]:.1f})"
        )


# ------------------------------------------------------------------ the two modes
GRID = {
    "similarity_threshold": (0.30, 0.35, 0.40),
    "overlap_threshold": (0.2, 0.3, 0.4),
}


def _choose(
    results: dict[tuple[float, ...], SetResult], students: tuple[str, ...], max_fa: float
) -> tuple[float, ...]:
    """The grid point with the best recall on ``students`` among those with ≤ ``max_fa``
    false alarms per hour there (the fewest alarms, then the best recall, when none is;
    among equals the first in grid order)."""

    def score(point: tuple[float, ...]) -> tuple[float, ...]:
        fig = figures(results[point], students)
        rate = fig["false_alarms"]["per_hour"] or 0.0
        recall = fig["overall"]["recall"] or 0.0
        return (rate <= max_fa, recall if rate <= max_fa else -rate, recall, -rate)

    return max(results, key=score)


def tuning_cv(models: Any, base_config: Any, args: Any) -> dict[str, Any]:
    part = load_part(EVALDATA, "tuning")
    mixtures = prompted_mixtures(part, args.mixtures, args.turns, seed=11)
    alones = alone_tracks(part, args.fa_hours, seed=12)
    cached = CachingModels(models)
    grid = dict(GRID)
    for item in args.grid or []:  # name=v1,v2,...
        name, _, values = item.partition("=")
        grid[name] = tuple(float(v) for v in values.split(","))
    names = list(grid)
    results: dict[tuple[float, ...], SetResult] = {}
    for point in itertools.product(*grid.values()):
        cfg = replace(base_config, **dict(zip(names, point, strict=True)))
        results[point] = run_set(cached, cfg, mixtures, alones)
        fig = figures(results[point])
        print(
            f"  {dict(zip(names, point, strict=True))}: recall {pct(fig['overall']['found'], fig['overall']['turns'])}, "
            f"{fig['false_alarms']['count']} false alarms in {fig['false_alarms']['hours']:.2f} h",
            file=sys.stderr,
        )
    folds = []
    found = turns = alarms = 0
    seconds = 0.0
    for left_out in TUNING_STUDENTS:
        rest = tuple(s for s in TUNING_STUDENTS if s != left_out)
        point = _choose(results, rest, args.max_fa)
        fig = figures(results[point], (left_out,))
        found += fig["overall"]["found"]
        turns += fig["overall"]["turns"]
        alarms += fig["false_alarms"]["count"]
        seconds += fig["false_alarms"]["hours"] * 3600
        folds.append({"left_out": left_out, "chosen": dict(zip(names, point, strict=True))})
        print(f"  fold without {left_out}: chose {folds[-1]['chosen']}, on {left_out}: "
              f"{fig['overall']['found']}/{fig['overall']['turns']}, {fig['false_alarms']['count']} false alarms")  # fmt: skip
    final = _choose(results, TUNING_STUDENTS, args.max_fa)
    hours = seconds / 3600
    print(
        f"tuning part, leave-one-speaker-out estimate: recall {pct(found, turns)}, "
        f"{alarms} false alarms in {hours:.2f} h = {alarms / max(hours, 1e-9):.2f} per hour"
    )
    print(f"chosen on all tuning speakers: {dict(zip(names, final, strict=True))}")
    return {
        "set": "tuning-cv",
        "students": list(TUNING_STUDENTS),
        "grid": grid,
        "folds": folds,
        "cv_recall": [found, turns],
        "cv_false_alarms": [alarms, hours],
        "chosen": dict(zip(names, final, strict=True)),
    }


def heldout(models: Any, config: Any, args: Any) -> dict[str, Any]:
    part = load_part(EVALDATA, "heldout")
    mixtures = prompted_mixtures(part, args.mixtures, args.turns, seed=21)
    alones = alone_tracks(part, args.fa_hours, seed=22)
    print(
        f"held-apart set: students {', '.join(HELD_APART_STUDENTS)} (tuning: "
        f"{', '.join(TUNING_STUDENTS)}); prompters {', '.join(part.prompter_names)}; "
        f"{len(mixtures)} prompted tracks, {sum(len(m.turns) for m in mixtures)} turns; "
        f"student-only {sum(len(a.track) for a in alones) / SR / 3600:.2f} h"
    )
    configs = [("detector", config)]
    if args.baseline and config.second_voice_threshold > 0:
        configs.append(
            ("without the second-voice head", replace(config, second_voice_threshold=0.0))
        )
    cached = CachingModels(models)  # the second pass reuses the first one's model outputs
    data: dict[str, Any] = {
        "set": "heldout",
        "students": list(HELD_APART_STUDENTS),
        "prompters": part.prompter_names,
    }
    for n, (name, cfg) in enumerate(configs):
        res = run_set(cached, cfg, mixtures, alones, verbose=n == 0)
        fig = figures(res)
        print(
            f"{name}: similarity {cfg.similarity_threshold}, overlap {cfg.overlap_threshold}, "
            f"second voice {cfg.second_voice_threshold or 'off'} (lag {cfg.second_voice_lag} s, "
            f"smoothing {cfg.second_voice_smooth} s)"
        )
        print_figures(fig, res if n == 0 else SetResult())
        data["figures" if n == 0 else "baseline_figures"] = fig
        if n == 0:
            data["cpu_core_s_per_s"] = res.cpu / res.audio if res.audio else None
            data["audio_seconds"] = res.audio
            data["thresholds"] = {
                "similarity": cfg.similarity_threshold,
                "overlap": cfg.overlap_threshold,
                "second_voice": cfg.second_voice_threshold,
                "second_voice_lag": cfg.second_voice_lag,
                "second_voice_smooth": cfg.second_voice_smooth,
            }
    data["load_average"] = os.getloadavg()[0]
    return data


def main(models: Any, config: Any, args: Any) -> int:
    data = (
        tuning_cv(models, config, args)
        if args.set == "tuning-cv"
        else heldout(models, config, args)
    )
    if args.json:
        print(json.dumps(data, default=float))
    return 0
