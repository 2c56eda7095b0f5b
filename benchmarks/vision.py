"""Video detection figures (internal evaluation on ../shared/evaldata; timing on a synthetic scene).

Prints: exact face count on the photos in evaldata/faces (thorough mode, the one
``analyze-image`` uses), face count of the live mode, the name-match rate on the ID
specimens in evaldata/id_docs that show a name, milliseconds per 640x480 frame
of the live ``VideoWatcher`` at 2 fps (student enrolled, so identity checks count;
also with the tilted / covered / empty fall-backs running), the lower-face covering
rate on masks and hands drawn on the real one-face photos (and the false "covered"
rate on the photos as they are), and tilted faces found in live mode.
Run: ``.venv/bin/python benchmarks/vision.py [--json] [--skip-ocr] [--skip-counts]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fixtures (the synthetic scenes, masks and hands)
EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


def face_counts(analyzer, thorough: bool) -> dict:  # noqa: ANN001
    from proctorbot.detection.image_input import load_image

    root = EVALDATA / "faces"
    rows = list(csv.DictReader((root / "labels.csv").open()))
    exact = 0
    misses = []
    for row in rows:
        count = len(analyzer.detect(load_image(root / row["file"]), thorough=thorough))
        expected = int(row["n_faces"])
        ok = count == expected or ("obama_and_biden" in row["file"] and count in (3, 4))
        exact += ok
        if not ok:
            misses.append(f"{row['file']}: {count} of {expected}")
    return {
        "photos": len(rows),
        "exact": exact,
        "accuracy": round(exact / len(rows), 4),
        "misses": misses,
    }


def name_matches(reader) -> dict:  # noqa: ANN001
    from proctorbot.detection.image_input import load_image

    root = EVALDATA / "id_docs"
    rows = [r for r in csv.DictReader((root / "labels.csv").open()) if r["surname"].strip()]
    matched = 0
    misses = []
    seconds = []
    for row in rows:
        expected = f"{row['surname']} {row['given_names']}"
        start = time.perf_counter()
        reading = reader.read([load_image(root / row["file"])], expected_name=expected)
        seconds.append(time.perf_counter() - start)
        matched += reading.name_match
        if not reading.name_match:
            misses.append(f"{row['file']}: read {reading.name!r} ({reading.name_score:.2f})")
    return {
        "specimens": len(rows),
        "matched": matched,
        "rate": round(matched / len(rows), 4),
        "seconds_per_document": round(statistics.mean(seconds), 2),
        "misses": misses,
    }


def live_timing(analyzer, seconds: float = 30.0, fps: float = 2.0, scene: str = "present") -> dict:  # noqa: ANN001, E501
    """ms per frame; ``scene``: present, tilted (50 deg, the rotated passes run), masked
    (the brows-and-eyes template keeps the face), empty (nobody: every fall-back runs)."""
    from proctorbot.detection.video_watch import VideoWatcher

    from tests.fixtures.synthetic import Segment, load_sample_face, render_scenario
    from tests.fixtures.synthetic_cover import draw_mask

    face = load_sample_face()
    first = list(render_scenario([Segment("present", 1)], fps=fps, face_photo=face))[0]
    shown = face
    if scene == "masked":
        found = analyzer.detect(face)[0]
        shown = draw_mask(face, analyzer.add_landmarks(face, found), "medical_blue")
    kind = "absent" if scene == "empty" else "present"
    frames = list(render_scenario([Segment(kind, seconds)], fps=fps, face_photo=shown))
    if scene == "tilted":
        frames = [(t, _tilt(frame, 50, (320, 150))) for t, frame in frames]
    watcher = VideoWatcher(analyzer=analyzer)
    watcher.enroll_from_frame(first[1])
    watcher.feed(0.0, first[1])  # warm-up, and the face the fall-backs start from
    times = []
    for t, frame in frames:
        start = time.perf_counter()
        watcher.feed(t + 1.0, frame)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "scene": scene,
        "fps": fps,
        "frame": "640x480",
        "mean_ms": round(statistics.mean(times), 1),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


def _tilt(frame, angle: float, centre: tuple[float, float]):  # noqa: ANN001, ANN202
    import cv2

    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return cv2.warpAffine(
        frame, matrix, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REFLECT
    )


def _one_face_rows() -> list[dict]:
    root = EVALDATA / "faces"
    return [
        row
        for row in csv.DictReader((root / "labels.csv").open())
        if row["n_faces"] == "1" and row["file"].startswith(("one_face/", "one_face_head_pose/"))
    ]


def lower_face_covering(analyzer) -> dict:  # noqa: ANN001
    """Masks and hands drawn on the real one-face photos; photos as they are for false alarms.

    Live: the watcher sees the photo in a 640x480 frame, then the covered one (so the
    kept-face fall-back can work as in a session). Photo: ``analyze-image`` (thorough)
    on the covered photo alone. A photo whose labels say the lower face is covered
    counts as a real covered sample, never as a false alarm.
    """
    from proctorbot.detection.frame_analysis import analyze_frame
    from proctorbot.detection.image_input import load_image
    from proctorbot.detection.video_watch import VideoWatcher

    from tests.fixtures.synthetic import fit_640x480
    from tests.fixtures.synthetic_cover import MASK_STYLES, draw_hand, draw_mask

    root = EVALDATA / "faces"
    kinds = [*MASK_STYLES, "hand", "hand_over_mouth"]
    live = {k: [0, 0, 0] for k in kinds}  # flagged, assessed (face kept, frontal), total
    photo = {k: [0, 0, 0] for k in kinds}
    plain = {"live": [0, 0, 0], "photo": [0, 0, 0]}  # false covered, assessed, total
    real = {"live": [0, 0], "photo": [0, 0]}  # flagged, total
    false_names = []
    for index, row in enumerate(_one_face_rows()):
        image = load_image(root / row["file"])
        frame = fit_640x480(image)
        truly_covered = "lower face covered" in row["notes"]
        watcher = VideoWatcher(analyzer=analyzer)
        watcher.feed(0.0, frame)
        plain_live = watcher.last_analysis
        plain_photo = analyze_frame(analyzer, image, thorough=True)
        for mode, analysis in (("live", plain_live), ("photo", plain_photo)):
            if truly_covered:
                real[mode][0] += analysis.lower_face_covered
                real[mode][1] += 1
                continue
            plain[mode][0] += analysis.lower_face_covered
            plain[mode][1] += analysis.lower_face is not None
            plain[mode][2] += 1
            if analysis.lower_face_covered:
                false_names.append(f"{mode}: {row['file']}")
        if truly_covered:
            continue
        for mode, base, table in (("live", frame, live), ("photo", image, photo)):
            faces = [f for f in analyzer.detect(base, rotated=False) if f.source == "hog"]
            if not faces:
                continue  # no landmarks to draw the covering on (live: the face is too small)
            landmarks = analyzer.add_landmarks(base, max(faces, key=lambda f: f.box.area))
            for seed, kind in enumerate(kinds):
                if kind == "hand":
                    covered = draw_hand(base, landmarks, seed=index * 10 + seed)
                elif kind == "hand_over_mouth":
                    covered = draw_hand(base, landmarks, seed=index * 10 + seed, over_nose=False)
                else:
                    covered = draw_mask(base, landmarks, kind, seed=index * 10 + seed)
                if mode == "live":
                    watcher = VideoWatcher(analyzer=analyzer)
                    watcher.feed(0.0, base)
                    watcher.feed(0.5, covered)
                    analysis = watcher.last_analysis
                else:
                    analysis = analyze_frame(analyzer, covered, thorough=True)
                table[kind][0] += analysis.lower_face_covered
                table[kind][1] += analysis.lower_face is not None
                table[kind][2] += 1

    def summary(table: dict) -> dict:
        flagged = sum(v[0] for v in table.values())
        assessed = sum(v[1] for v in table.values())
        total = sum(v[2] for v in table.values())
        return {
            "flagged": flagged,
            "assessed": assessed,
            "total": total,
            "rate": round(flagged / total, 4) if total else None,
            "rate_of_assessed": round(flagged / assessed, 4) if assessed else None,
            "by_kind": {k: f"{v[0]}/{v[2]} (assessed {v[1]})" for k, v in table.items()},
        }

    return {
        "covered_live": summary(live),
        "covered_photo": summary(photo),
        "real_masked_photo_flagged": {m: f"{v[0]}/{v[1]}" for m, v in real.items()},
        "false_covered_on_plain_photos": {
            m: f"{v[0]}/{v[2]} (assessed {v[1]})" for m, v in plain.items()
        },
        "false_covered": false_names,
    }


def tilted_live(analyzer, angles: tuple[int, ...] = (25, 30, 35, 40, 50)) -> dict:  # noqa: ANN001
    """Real one-face photos in a 640x480 frame, turned in-plane about the face by +-angle.

    Counts frames where the upright pass alone finds the face, and where the live
    watcher does: from cold (first frame, no face seen before) and after an upright
    frame (the usual case: the student tilts the head). Also the false faces the
    fall-backs add on empty frames (rooms, the no-face photos).
    """
    from proctorbot.detection.image_input import load_image
    from proctorbot.detection.video_watch import VideoWatcher

    from tests.fixtures.synthetic import Segment, fit_640x480, render_scenario

    root = EVALDATA / "faces"
    table = {a: [0, 0, 0, 0] for a in angles}  # upright only, cold, after upright, total
    for row in _one_face_rows():
        frame = fit_640x480(load_image(root / row["file"]))
        faces = analyzer.detect(frame)
        if len(faces) != 1:
            continue
        box = faces[0].box
        centre = ((box.left + box.right) / 2, (box.top + box.bottom) / 2)
        for angle in angles:
            for signed in (angle, -angle):
                tilted = _tilt(frame, signed, centre)
                table[angle][0] += len(analyzer.detect(tilted)) == 1
                cold = VideoWatcher(analyzer=analyzer)
                cold.feed(0.0, tilted)
                table[angle][1] += cold.last_analysis.face_count == 1
                warm = VideoWatcher(analyzer=analyzer)
                warm.feed(0.0, frame)
                warm.feed(0.5, tilted)
                table[angle][2] += warm.last_analysis.face_count == 1
                table[angle][3] += 1
    empty_frames = [f for _, f in render_scenario([Segment("absent", 10)], fps=2, seed=5)]
    empty_frames += [
        fit_640x480(load_image(root / row["file"]))
        for row in csv.DictReader((root / "labels.csv").open())
        if row["n_faces"] == "0"
    ]
    false_faces = 0
    for frame in empty_frames:
        watcher = VideoWatcher(analyzer=analyzer)
        for step in range(3):
            watcher.feed(step * 1.5, frame)
            false_faces += watcher.last_analysis.face_count > 0
    return {
        "by_angle": {
            f"+-{a}": f"upright pass {v[0]}/{v[3]}, watcher cold {v[1]}/{v[3]}, "
            f"after an upright frame {v[2]}/{v[3]}"
            for a, v in table.items()
        },
        "empty_frames_with_a_face": f"{false_faces}/{3 * len(empty_frames)}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-ocr", action="store_true", help="leave out the ID documents (slow)")
    parser.add_argument(
        "--skip-counts", action="store_true", help="leave out the face counts on all photos"
    )
    args = parser.parse_args()
    import os

    from proctorbot.detection.faces import FaceAnalyzer

    analyzer = FaceAnalyzer()
    results: dict = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    results["live_watcher"] = live_timing(analyzer)
    for scene in ("tilted", "masked", "empty"):
        results[f"live_watcher_{scene}"] = live_timing(analyzer, seconds=15.0, scene=scene)
    if (EVALDATA / "faces").is_dir():
        results["lower_face_covering"] = lower_face_covering(analyzer)
        results["tilted_live"] = tilted_live(analyzer)
        if not args.skip_counts:
            results["faces_thorough"] = face_counts(analyzer, thorough=True)
            results["faces_live"] = face_counts(analyzer, thorough=False)
    else:
        results["faces_thorough"] = "skipped: ../shared/evaldata absent"
    if (EVALDATA / "id_docs").is_dir() and not args.skip_ocr:
        from proctorbot.detection.id_document import IdDocumentReader

        results["id_names"] = name_matches(IdDocumentReader(analyzer=analyzer))
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
