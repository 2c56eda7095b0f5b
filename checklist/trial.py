"""The checklist of a trial call (a test call with recording before the exam [003 §3]).

A trial call runs consent and the equipment steps of the session's profile (those whose
kind is in ``config.profiles.EQUIPMENT_STEP_KINDS``: camera, microphone, network, the
phone camera ...) with nobody to confirm them: an automatic pass is a pass. Once every
step is decided — or one has failed for good, since no examiner is there to retry it —
the bot records ``sample_seconds`` more and ends the call. ``trial_outcome`` says what
the organizers read: passed, failed (which step, why) or not attended.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import ChecklistRun, RunOutcome, StepKind, StepStatus
from proctorbot.config.profiles import EQUIPMENT_STEP_KINDS
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# How often the end watch looks at the run in memory (no file is read).
POLL_S = 0.5


class TrialStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_SHOW = "no_show"  # the student never answered the consent step


@dataclass(frozen=True)
class TrialOutcome:
    status: TrialStatus
    step: str = ""  # the step that failed (a StepKind), when failed
    # Why, as a key of the checklist's texts: ``checklist.auto.<reason>`` (no_video,
    # timeout, consent_refused ...) or ``checklist.trial.<reason>`` (left, unfinished).
    reason: str = ""


def trial_plan(plan: ChecklistPlan) -> ChecklistPlan:
    """Consent and the profile's equipment steps, nothing confirmed by an examiner."""
    kept = [
        replace(step, requires_confirmation=False, required=True)
        for step in plan.steps
        if step.kind == StepKind.CONSENT or step.kind in EQUIPMENT_STEP_KINDS
    ]
    if not any(step.kind in EQUIPMENT_STEP_KINDS for step in kept):
        kept.append(ChecklistPlan.from_step_names([str(StepKind.EQUIPMENT)]).steps[0])
    return replace(plan, steps=tuple(kept))


def decided(run: ChecklistRun) -> bool:
    """Nothing more will happen without an examiner: finished, or a step failed for good."""
    return run.finished or any(step.status is StepStatus.FAILED for step in run.steps)


def trial_outcome(run: ChecklistRun | None) -> TrialOutcome:
    if run is None or (run.consent is None and run.outcome is RunOutcome.IN_PROGRESS):
        return TrialOutcome(TrialStatus.NO_SHOW)
    if run.outcome is RunOutcome.ADMITTED:
        return TrialOutcome(TrialStatus.PASSED)
    if run.outcome is RunOutcome.CONSENT_REFUSED:
        return TrialOutcome(TrialStatus.FAILED, str(StepKind.CONSENT), "consent_refused")
    for step in run.steps:
        if step.status is StepStatus.FAILED:
            return TrialOutcome(TrialStatus.FAILED, str(step.kind), step.failure or "failed")
    current = run.current
    step = str(current.kind) if current is not None else ""
    return TrialOutcome(TrialStatus.FAILED, step, "unfinished")


def load_trial_outcomes(db: Session, session_ids: Iterable[str]) -> dict[str, TrialOutcome]:
    """The outcome of each trial session from its stored run (no run: not attended)."""
    from proctorbot.checklist.tables import ChecklistRunRow

    ids = list(session_ids)
    rows = db.scalars(select(ChecklistRunRow).where(ChecklistRunRow.session_id.in_(ids)))
    runs = {row.session_id: ChecklistRun.from_json(json.loads(row.state_json)) for row in rows}
    return {session_id: trial_outcome(runs.get(session_id)) for session_id in ids}


async def end_after_sample(
    run_state: Callable[[], ChecklistRun | None],
    *,
    sample_seconds: float,
    tell_student: Callable[[TrialOutcome], Awaitable[Any]],
    end: Callable[[str], Any],
) -> TrialOutcome:
    """Wait until the trial is decided, tell the student, record ``sample_seconds`` more,
    then ``end("trial_over")`` (the bot leaves like at any session's end)."""
    while True:
        run = run_state()
        if run is not None and decided(run):
            break
        await asyncio.sleep(POLL_S)
    outcome = trial_outcome(run)
    try:
        await tell_student(outcome)
    except Exception:  # noqa: BLE001 - the call still ends
        log.exception("trial %s: the student was not told", run.session_id)
    await asyncio.sleep(sample_seconds)
    end("trial_over")
    return outcome


def trial_reason_text(texts: Any, outcome: TrialOutcome) -> str:
    """The reason in words (``Catalogue``): the step's title and what went wrong."""
    from proctorbot.config.catalogue import MissingText

    if outcome.status is not TrialStatus.FAILED:
        return texts.text(f"checklist.trial.status.{outcome.status}")
    try:
        why = texts.text(f"checklist.auto.{outcome.reason}")
    except MissingText:
        try:
            why = texts.text(f"checklist.trial.reason.{outcome.reason}")
        except MissingText:
            why = texts.text("checklist.auto.auto_check_failed")
    try:
        step = texts.text(f"checklist.step.{outcome.step}.title")
    except MissingText:
        return why
    return texts.text("checklist.trial.step_reason", step=step, reason=why)


def trial_done_text(texts: Any, outcome: TrialOutcome, sample_seconds: float) -> str:
    """What the student reads when the trial's checks are decided."""
    if outcome.status is TrialStatus.PASSED:
        return texts.text("checklist.trial.done_passed", seconds=round(sample_seconds))
    return texts.text(
        "checklist.trial.done_failed",
        reason=trial_reason_text(texts, outcome),
        seconds=round(sample_seconds),
    )
