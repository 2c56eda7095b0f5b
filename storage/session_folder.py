"""The files of a session's folder, ``<data_dir>/recordings/<session_id>/``, named once.

Each file is written by one area and read by others after the session (the report, the
hand-over, a restarted bot), so its name lives here and nowhere else; every area may
import this module (it imports nothing). docs/architecture.md, "Files of a session".
"""

from __future__ import annotations

MANIFEST_FILE = "manifest.json"  # the recording's media files and gaps (recording/manifest.py)
EVENTS_FILE = "events.jsonl"  # one DetectorEvent a line, the durable record (bot/events_log.py)
CHECKLIST_FILE = "checklist.json"  # the pre-exam checklist's run (checklist/store.py)
VOICEPRINTS_DIR = "voiceprints"
VOICEPRINT_FILE = f"{VOICEPRINTS_DIR}/student.json"  # enrolled by the checklist's name step
HANDOVER_FILE = "handover.json"  # the hand-over's steps and their progress (handover/)
EVIDENCE_DIR = "evidence"  # images and clips behind findings and checklist checks
# The shared screen every ``screen_snapshot_every_s`` (bot/live_sources.py), named
# ``<track>-MMMmSSs.jpg`` by minutes:seconds from the recording start (the report lists them).
SCREEN_SNAPSHOTS_DIR = f"{EVIDENCE_DIR}/screen"
ARCHIVE_FILE = "archive.json"  # what the S3 store holds of the folder, verified (storage/)
REPORT_DIR = "report"  # report.html, report.json (report/output.py)
# Janus mode: Janus's own recording converted after the session (conference/janus/recordings.py)
JANUS_DIR = "janus"
JANUS_FEEDS_DIR = f"{JANUS_DIR}/feeds"  # <room>-<feed>.json: whose feed (bot/janus_media.py)

# The analysis audio: the ``*.wav`` of the folder and every live audio chunk are mono int16
# at this rate, the rate the audio models (VAD, CAM++, segmentation, Whisper) take.
ANALYSIS_SAMPLE_RATE = 16000
