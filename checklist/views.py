"""What each page is sent: the examiners see everything, the student only their step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proctorbot.checklist.records import STUDENT_ACTION_STEPS, ChecklistRun, StepKind, StepStatus
from proctorbot.config.catalogue import Catalogue
from proctorbot.storage.session_folder import CHECKLIST_FILE

EXAMINER_ROLES = frozenset({"examiner", "expert", "organizer"})
RECENT_TRANSITIONS = 40


def examiner_view(
    run: ChecklistRun,
    *,
    student_present: bool,
    flags: list[dict[str, Any]],
    needs: dict[str, Any] | None = None,
    recording_started_at: float | None = None,
) -> dict[str, Any]:
    """``needs``: the automatic checks' thresholds (checks.CheckThresholds), so the panel
    says "10 frames/s, 15 needed"; ``recording_started_at``: the Unix time every flag's
    time counts from, so the panel shows the clock beside it."""
    data = run.to_json()
    data["transitions"] = data["transitions"][-RECENT_TRANSITIONS:]
    current = run.current
    data["current"] = str(current.kind) if current else None
    data["student_present"] = student_present
    data["evidence_url"] = f"/checklist/evidence/{run.session_id}/"
    data["flags"] = flags[-200:]
    data["needs"] = dict(needs or {})
    data["recording_started_at"] = recording_started_at
    return data


def student_view(run: ChecklistRun, *, consent_text_version: str) -> dict[str, Any]:
    current = run.current
    data: dict[str, Any] = {
        "session_id": run.session_id,
        "revision": run.revision,
        "outcome": str(run.outcome),
        "mode": str(run.mode),
        "current": str(current.kind) if current else None,
        "status": str(current.status) if current else None,
        "attempt": current.attempts if current else 0,
        "time_limit_s": current.time_limit_s if current else None,
        "started_at": current.started_at if current else None,
        "failure": current.failure if current else "",
        "buttons": None,
        "steps": [{"kind": str(s.kind), "status": str(s.status)} for s in run.steps],
    }
    if current is not None and current.status is StepStatus.RUNNING:
        if current.kind in STUDENT_ACTION_STEPS:
            data["buttons"] = "consent" if current.kind is StepKind.CONSENT else "ack"
        if current.kind is StepKind.CONSENT:
            data["consent_text_version"] = consent_text_version
    return data


def step_in_words(session_dir: Path, language: str = "ru") -> str:
    """The checklist's current step (or its outcome) in words ("Room scan"), for the
    Telegram /status; "—" before the checklist has begun."""
    try:
        run = ChecklistRun.from_json(json.loads((session_dir / CHECKLIST_FILE).read_text()))
        current = run.current
        texts = Catalogue.load(language if language in ("ru", "en") else "ru").texts
        if current is not None:
            return texts.get(f"checklist.step.{current.kind}.title", "—")
        return texts.get(f"checklist.outcome.{run.outcome}", "—")
    except Exception:  # no checklist yet, or another format
        return "—"
