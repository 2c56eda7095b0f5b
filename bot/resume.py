"""What a bot takes over from an earlier one in the same session folder (it crashed, the
server restarted): the checklist's verdict and the student's voiceprint, read once when
the bot starts — before any part of the session runs — and put on the session bus as if
they had just been said. While the session runs nothing is read back from its folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from proctorbot.bot.session_bus import ExamDecided, SessionBus, VoiceprintEnrolled
from proctorbot.storage.session_folder import CHECKLIST_FILE, VOICEPRINT_FILE

log = logging.getLogger(__name__)


def exam_state(session_dir: Path) -> str | None:
    """``proctored`` / ``non_biometric`` once admitted, ``closed`` when not admitted, else None."""
    path = Path(session_dir) / CHECKLIST_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outcome = data.get("outcome")
    if outcome == "admitted":
        return "non_biometric" if data.get("mode") == "non_biometric" else "proctored"
    if outcome in ("not_admitted", "consent_refused"):
        return "closed"
    return None


def load_voiceprint(session_dir: Path):  # noqa: ANN201 - detection.voiceprint.Voiceprint | None
    """The voiceprint the checklist enrolled when the student said their name, if any."""
    from proctorbot.detection.voiceprint import Voiceprint

    path = Path(session_dir) / VOICEPRINT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Voiceprint(
        np.asarray(data["vector"], dtype=np.float32),
        float(data.get("speech_seconds", 0.0)),
        1.0,
        str(data.get("source", "enrollment")),
    )


def take_over(session_dir: Path, bus: SessionBus) -> None:
    """Publish what an earlier bot of this session left decided (nothing for a new one)."""
    state = exam_state(session_dir)
    if state is not None:
        log.info("%s: the checklist had already ended (%s)", Path(session_dir).name, state)
        bus.publish(ExamDecided(state))
    try:
        voiceprint = load_voiceprint(session_dir)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: the earlier voiceprint is unreadable (%s)", Path(session_dir).name, exc)
        voiceprint = None
    if voiceprint is not None:
        bus.publish(VoiceprintEnrolled(voiceprint))
