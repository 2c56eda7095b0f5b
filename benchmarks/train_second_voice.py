"""Train ``detection/second_voice_head.json`` on CPU from mixtures of the tuning speakers.

The frames are those the live detector reads: the overlap scorer runs every 2.5 s on the
last 10 s of the track, and the newest 2.5 s of each chunk are judged. A frame inside a
prompter turn is a positive, a frame of a student-only track or of a prompted track outside
its turns a negative; frames the examiner's voice can reach are left out (the detector
masks them). Only ``voice_sets.TUNING_STUDENTS`` and the tuning prompters are used.

Run: ``.venv/bin/python benchmarks/train_second_voice.py [--mixtures 4] [--fa-hours 0.5]``
(``--features FILE`` keeps or reuses the collected frames).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
warnings.filterwarnings("ignore")

from voice_sets import TUNING_STUDENTS, alone_tracks, load_part, prompted_mixtures  # noqa: E402
from voices import EVALDATA, SR  # noqa: E402

EVERY = 2.5
CONTEXT = 10.0


def track_frames(scorer, track: np.ndarray, lag: float = 0.0) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(times, features) of the frames the live detector judges, in order: the newest
    2.5 s of each chunk, or with ``lag`` the 2.5 s that end ``lag`` seconds before it."""
    times, feats = [], []
    seconds = len(track) / SR
    end = EVERY
    while end <= seconds + EVERY - 1e-6:
        end = min(end, seconds)
        start = max(0.0, end - CONTEXT)
        scores = scorer.frame_scores(track[int(start * SR) : int(end * SR)])
        t = start + np.arange(len(scores.overlap)) * scores.step
        new = (t >= end - EVERY - lag) & (t < end - lag)
        if end >= seconds:  # the last chunk judges everything not judged yet
            new = t >= end - EVERY - lag
        times.append(t[new])
        feats.append(scores.features[new])
        if end >= seconds:
            break
        end += EVERY
    return np.concatenate(times), np.concatenate(feats)


def near_examiner(times: np.ndarray, examiner: np.ndarray | None, reach: float = 0.7) -> np.ndarray:
    if examiner is None or not examiner.any():
        return np.zeros(len(times), bool)
    frame = 320
    n = len(examiner) // frame
    energy = np.sqrt(np.mean(examiner[: n * frame].reshape(n, frame) ** 2, axis=1))
    active = np.flatnonzero(energy > 0.03 * energy.max()) * 0.02
    if active.size == 0:
        return np.zeros(len(times), bool)
    idx = np.searchsorted(active, times)
    before = np.abs(times - active[np.clip(idx - 1, 0, len(active) - 1)])
    after = np.abs(active[np.clip(idx, 0, len(active) - 1)] - times)
    return np.minimum(before, after) <= reach


def collect(args: argparse.Namespace) -> dict[str, np.ndarray]:
    import torch
    from proctorbot.config.settings import DetectionSettings
    from proctorbot.detection.audio_models import AudioModels

    torch.set_num_threads(1)
    models = AudioModels(DetectionSettings(torch_threads=1))
    scorer = models.overlap
    part = load_part(EVALDATA, "tuning")
    X, y, who, track, when, turn_id, masked = [], [], [], [], [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    tracks = [
        (m.student, m.track, m.examiner, m.turns)
        for m in prompted_mixtures(part, args.mixtures, args.turns, seed=31)
    ]
    tracks += [
        (a.student, a.track, a.examiner, []) for a in alone_tracks(part, args.fa_hours, seed=32)
    ]
    n_turn = 0
    for k, (student, audio, examiner, turns) in enumerate(tracks):
        times, feats = track_frames(scorer, audio, args.lag)
        ids = np.full(len(times), -1)
        for turn in turns:
            ids[(times >= turn.start) & (times < turn.end)] = n_turn
            n_turn += 1
        X.append(feats)
        y.append(ids >= 0)
        turn_id.append(ids)
        masked.append(near_examiner(times, examiner))
        who += [student] * len(times)
        track.append(np.full(len(times), k))
        when.append(times)
    print(
        f"collected {sum(len(v) for v in y)} frames in {time.perf_counter() - t0:.0f} s wall, "
        f"{time.process_time() - c0:.0f} s CPU"
    )
    return {
        "X": np.concatenate(X),
        "y": np.concatenate(y),
        "who": np.asarray(who),
        "track": np.concatenate(track),
        "time": np.concatenate(when),
        "turn": np.concatenate(turn_id),
        "masked": np.concatenate(masked),
    }


def fit(X: np.ndarray, y: np.ndarray, c: float):  # noqa: ANN201
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=500)
    model.fit((X - mean) / scale, y)
    return model, mean, scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mixtures", type=int, default=4)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--fa-hours", type=float, default=0.5)
    parser.add_argument("--c", type=float, default=0.1)
    parser.add_argument("--lag", type=float, default=0.0, help="judge frames this much older")
    parser.add_argument("--features", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="head JSON (default: shipped)")
    args = parser.parse_args()
    if args.features is not None and args.features.exists():
        data = dict(np.load(args.features))
    else:
        data = collect(args)
        if args.features is not None:
            np.savez(args.features, **data)
    keep = ~data["masked"] if "masked" in data else np.ones(len(data["y"]), bool)
    X, y, who = data["X"][keep], data["y"][keep], data["who"][keep]
    print(f"{len(y)} frames, {int(y.sum())} with a prompter, speakers {sorted(set(who))}")
    from sklearn.metrics import roc_auc_score

    for left in TUNING_STUDENTS:  # frame-level check by speaker, before the detector's CV
        tr, te = who != left, who == left
        if not te.any() or y[te].all() or not y[te].any():
            continue
        model, mean, scale = fit(X[tr], y[tr], args.c)
        p = model.predict_proba((X[te] - mean) / scale)[:, 1]
        neg = np.sort(p[~y[te]])
        at = neg[int(0.999 * (len(neg) - 1))]
        print(
            f"  without {left}: frame AUC {roc_auc_score(y[te], p):.3f}, positives over the "
            f"99.9th percentile of negatives {float((p[y[te]] > at).mean()):.1%}"
        )
    from proctorbot.detection.second_voice import HEAD_FILE, SecondVoiceHead

    model, mean, scale = fit(X, y, args.c)
    head = SecondVoiceHead(
        model.coef_[0].astype(np.float32),
        float(model.intercept_[0]),
        mean.astype(np.float32),
        scale.astype(np.float32),
        f"logistic regression, C={args.c}, {len(y)} frames ({int(y.sum())} with a prompter) "
        f"of the tuning speakers {', '.join(TUNING_STUDENTS)} and the tuning prompters "
        f"(benchmarks/voice_sets.py; seeds 31/32)",
    )
    out = args.out or HEAD_FILE
    import json

    out.write_text(json.dumps(head.to_json()) + "\n", "utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
