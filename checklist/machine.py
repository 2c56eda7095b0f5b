"""The checklist state machine: every allowed change of a run, and nothing else.

It does no I/O and keeps no clock of its own, so each rule is a plain unit test.
Callers serialize commands (the runner applies them one at a time from a queue);
a command that no longer fits the run — a click on a step that is not the current
one, a second examiner confirming what the first already confirmed, a timer of an
attempt that is over — raises ``ChecklistConflict`` and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import (
    BOT,
    IDENTITY_STEPS,
    Actor,
    AutoResult,
    ChecklistRun,
    ConsentRecord,
    ExamMode,
    RunOutcome,
    StepKind,
    StepRecord,
    StepStatus,
    Transition,
)

Clock = Callable[[], dt.datetime]
DECIDING_ROLES = frozenset({"examiner", "organizer"})


class ChecklistConflict(Exception):
    """A command that does not fit the run's current state; nothing was changed.

    ``code``: finished | out_of_order | stale | already_decided | not_allowed |
    reason_required | student_only.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run(
    session_id: str,
    *,
    plan: ChecklistPlan,
    profile: str,
    student_name: str,
    language: str,
    now: Clock = utc_now,
) -> ChecklistRun:
    return ChecklistRun(
        session_id=session_id,
        profile=profile,
        student_name=student_name,
        language=language,
        steps=plan.new_records(),
        created_at=now().isoformat(),
    )


class ChecklistMachine:
    """Applies commands to one ``ChecklistRun``; each returns the transitions it made."""

    def __init__(self, run: ChecklistRun, plan: ChecklistPlan, *, now: Clock = utc_now) -> None:
        self.run = run
        self.plan = plan
        self._now = now

    # --- the bot -------------------------------------------------------------

    def begin(self) -> list[Transition]:
        """Start an attempt of the current step (pending → running)."""
        step = self._current_or_raise()
        if step.status is not StepStatus.PENDING:
            raise ChecklistConflict("stale", f"step {step.kind} is already {step.status}")
        return [self._start_attempt(step, BOT, "begin")]

    def record_auto(self, kind: StepKind, attempt: int, result: AutoResult) -> list[Transition]:
        """The automatic check of one attempt finished (or found it could not check)."""
        step = self._attempt_or_raise(kind, attempt)
        previous = step.status
        step.auto = result
        step.evidence.extend(p for p in result.evidence if p not in step.evidence)
        detail = {"attempt": attempt, "auto": result.to_json()}
        if result.available and result.passed is False:
            return self._fail_attempt(step, result.summary or "auto_check_failed", detail)
        if result.available and result.passed and not step.requires_confirmation:
            return self._finish(step, StepStatus.PASSED, BOT, "auto_passed", detail=detail)
        # Unavailable, or passed but the profile wants an examiner to look: wait.
        return [self._record(step, "auto_result", BOT, previous, step.status, detail)]

    def timeout(self, kind: StepKind, attempt: int) -> list[Transition]:
        step = self._attempt_or_raise(kind, attempt)
        return self._fail_attempt(step, "timeout", {"attempt": attempt})

    def interrupt(self, actor: Actor) -> list[Transition]:
        """The student left: a running attempt goes back to pending and is not counted."""
        step = self.run.current
        if step is None or step.status is not StepStatus.RUNNING:
            return []
        step.status = StepStatus.PENDING
        step.attempts -= 1
        step.started_at = None
        return [
            self._record(step, "interrupted", actor, StepStatus.RUNNING, StepStatus.PENDING, {})
        ]

    # --- the student -----------------------------------------------------------

    def answer_consent(self, given: bool, actor: Actor, text_version: str) -> list[Transition]:
        step = self._current_or_raise(StepKind.CONSENT)
        if step.status is not StepStatus.RUNNING:
            raise ChecklistConflict("stale", f"consent is {step.status}, not awaiting an answer")
        at = self._now().isoformat()
        self.run.consent = ConsentRecord(
            given=given, at=at, text_version=text_version, language=self.run.language, actor=actor
        )
        detail = {"given": given, "text_version": text_version}
        if given:
            return self._finish(step, StepStatus.PASSED, actor, "consent_given", detail=detail)
        step.status = StepStatus.FAILED
        step.finished_at = at
        step.decided_by = actor
        step.failure = "consent_refused"
        made = [
            self._record(step, "consent_refused", actor, StepStatus.RUNNING, step.status, detail)
        ]
        if self.plan.non_biometric_allowed:
            self.run.mode = ExamMode.NON_BIOMETRIC
            made.append(self._record(None, "non_biometric_mode", BOT, None, None, {}))
            made.extend(self._admit_if_complete())
        else:
            made.append(self._end(RunOutcome.CONSENT_REFUSED, BOT, {}))
        return made

    def acknowledge(self, kind: StepKind, actor: Actor) -> list[Transition]:
        """The student pressed "I have read it" (the instruction step)."""
        step = self._current_or_raise(kind)
        if kind is StepKind.CONSENT:
            raise ChecklistConflict(
                "not_allowed", "consent needs an answer, not an acknowledgement"
            )
        if step.status is not StepStatus.RUNNING:
            raise ChecklistConflict("stale", f"step {kind} is {step.status}")
        return self._finish(step, StepStatus.PASSED, actor, "acknowledged")

    # --- the examiners ---------------------------------------------------------

    def confirm(self, kind: StepKind, actor: Actor) -> list[Transition]:
        step = self._examiner_step(kind, actor)
        if step.status is StepStatus.FAILED:
            raise ChecklistConflict(
                "reason_required", f"step {kind} failed; override it with a reason instead"
            )
        return self._finish(step, StepStatus.PASSED, actor, "confirmed")

    def override(self, kind: StepKind, actor: Actor, reason: str) -> list[Transition]:
        step = self._examiner_step(kind, actor)
        reason = _require_reason(reason)
        return self._finish(step, StepStatus.OVERRIDDEN, actor, "overridden", reason=reason)

    def retry(self, kind: StepKind, actor: Actor) -> list[Transition]:
        """Give the student another attempt, beyond the profile's number if need be."""
        step = self._examiner_step(kind, actor, decides=False)
        if step.status is StepStatus.PENDING:
            raise ChecklistConflict("stale", f"step {kind} has not started yet")
        return [self._start_attempt(step, actor, "retry")]

    def reject(self, kind: StepKind, actor: Actor, reason: str) -> list[Transition]:
        """The examiner ends the checklist here: the student is not admitted."""
        step = self._examiner_step(kind, actor, decides=False)
        reason = _require_reason(reason)
        previous = step.status
        step.status = StepStatus.FAILED
        step.finished_at = self._now().isoformat()
        step.decided_by = actor
        step.reason = reason
        made = [self._record(step, "rejected", actor, previous, step.status, {"reason": reason})]
        detail = {"step": str(kind), "reason": reason, "identity": kind in IDENTITY_STEPS}
        made.append(self._end(RunOutcome.NOT_ADMITTED, actor, detail))
        return made

    # --- internals -------------------------------------------------------------

    def _current_or_raise(self, kind: StepKind | None = None) -> StepRecord:
        if self.run.finished:
            raise ChecklistConflict("finished", f"the checklist is over ({self.run.outcome})")
        step = self.run.current
        if step is None:
            raise ChecklistConflict("finished", "every step is done")
        if kind is not None and step.kind is not kind:
            if kind in {s.kind for s in self.run.steps} and self.run.settled(self.run.step(kind)):
                done = self.run.step(kind)
                who = done.decided_by.name if done.decided_by else "the bot"
                raise ChecklistConflict(
                    "already_decided", f"step {kind} is already {done.status} ({who})"
                )
            raise ChecklistConflict(
                "out_of_order", f"step {kind} is not the current step ({step.kind})"
            )
        return step

    def _attempt_or_raise(self, kind: StepKind, attempt: int) -> StepRecord:
        step = self._current_or_raise(kind)
        if step.status is not StepStatus.RUNNING or step.attempts != attempt:
            raise ChecklistConflict(
                "stale", f"attempt {attempt} of {kind} is over (now {step.status} #{step.attempts})"
            )
        return step

    def _examiner_step(self, kind: StepKind, actor: Actor, *, decides: bool = True) -> StepRecord:
        if actor.role not in DECIDING_ROLES:
            raise ChecklistConflict("not_allowed", f"a {actor.role} cannot decide checklist steps")
        step = self._current_or_raise(kind)
        if decides and kind is StepKind.CONSENT:
            raise ChecklistConflict("student_only", "only the student can give or refuse consent")
        return step

    def _start_attempt(self, step: StepRecord, actor: Actor, action: str) -> Transition:
        previous = step.status
        step.status = StepStatus.RUNNING
        step.attempts += 1
        step.started_at = self._now().isoformat()
        step.finished_at = None
        step.auto = None
        step.failure = ""
        return self._record(step, action, actor, previous, step.status, {"attempt": step.attempts})

    def _fail_attempt(
        self, step: StepRecord, failure: str, detail: dict[str, Any]
    ) -> list[Transition]:
        detail = {**detail, "failure": failure}
        if step.attempts < step.max_attempts:
            started = self._start_attempt(step, BOT, "retry")
            started = replace(started, detail={**started.detail, **detail})
            self.run.transitions[-1] = started
            return [started]
        previous = step.status
        step.status = StepStatus.FAILED
        step.failure = failure
        step.finished_at = self._now().isoformat()
        made = [self._record(step, "failed", BOT, previous, step.status, detail)]
        if not step.required:  # recorded, and the checklist goes on
            made.extend(self._admit_if_complete())
        return made

    def _finish(
        self,
        step: StepRecord,
        status: StepStatus,
        actor: Actor,
        action: str,
        *,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> list[Transition]:
        previous = step.status
        step.status = status
        step.finished_at = self._now().isoformat()
        step.decided_by = actor
        step.reason = reason
        detail = dict(detail or {})
        if reason:
            detail["reason"] = reason
        made = [self._record(step, action, actor, previous, status, detail)]
        made.extend(self._admit_if_complete())
        return made

    def _admit_if_complete(self) -> list[Transition]:
        if self.run.current is None and not self.run.finished:
            return [self._end(RunOutcome.ADMITTED, BOT, {"mode": str(self.run.mode)})]
        return []

    def _end(self, outcome: RunOutcome, actor: Actor, detail: dict[str, Any]) -> Transition:
        self.run.outcome = outcome
        self.run.finished_at = self._now().isoformat()
        return self._record(None, str(outcome), actor, None, None, detail)

    def _record(
        self,
        step: StepRecord | None,
        action: str,
        actor: Actor,
        previous: StepStatus | None,
        status: StepStatus | None,
        detail: dict[str, Any],
    ) -> Transition:
        self.run.revision += 1
        transition = Transition(
            seq=len(self.run.transitions) + 1,
            at=self._now().isoformat(),
            step=step.kind if step else None,
            action=action,
            actor=actor,
            from_status=previous,
            to_status=status,
            detail=detail,
        )
        self.run.transitions.append(transition)
        return transition


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ChecklistConflict("reason_required", "an override or a rejection needs a reason")
    return reason[:1000]
