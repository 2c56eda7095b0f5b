"""The checklist's records: steps, automatic results, consent, transitions, the whole run.

Everything here is plain data with a JSON form, so the run can be stored in the
database and in ``checklist.json`` and restored after a crash or a page reload.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from proctorbot.config.profiles import StepKind

# Steps whose final failure means identity is not confirmed: not admitted [004 §4.2].
IDENTITY_STEPS = frozenset({StepKind.ID_DOCUMENT, StepKind.NAME_ALOUD})
# Steps the student completes with a button on their page, not the camera.
STUDENT_ACTION_STEPS = frozenset({StepKind.CONSENT, StepKind.INSTRUCTION})


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    OVERRIDDEN = "overridden"  # the examiner let it pass against the check, with a reason


DONE_STATUSES = frozenset({StepStatus.PASSED, StepStatus.OVERRIDDEN})


class RunOutcome(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    ADMITTED = "admitted"  # every step done; the exam and the live watch start
    NOT_ADMITTED = "not_admitted"  # identity (or another step) rejected by the examiner
    CONSENT_REFUSED = "consent_refused"  # the proctored session never starts


class ExamMode(enum.StrEnum):
    PROCTORED = "proctored"
    # Consent to biometrics refused and the profile allows it: examiner-only identity
    # check, no automated analysis [001 §1.8].
    NON_BIOMETRIC = "non_biometric"


def exam_state_of(run: ChecklistRun) -> str | None:
    """What the checklist's end means for the exam: ``proctored`` / ``non_biometric``
    (admitted), ``closed`` (not admitted, consent refused), None while it goes on."""
    if run.outcome is RunOutcome.ADMITTED:
        return str(run.mode)
    if run.outcome in (RunOutcome.NOT_ADMITTED, RunOutcome.CONSENT_REFUSED):
        return "closed"
    return None


@dataclass(frozen=True)
class AutoResult:
    """What the bot could check by itself; ``available=False`` says it could not."""

    available: bool
    passed: bool | None = None
    summary: str = ""  # a catalogue key under checklist.auto (e.g. "name_mismatch")
    details: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # paths relative to the session folder

    @classmethod
    def unavailable(cls, why: str, **details: Any) -> AutoResult:
        return cls(available=False, passed=None, summary=why, details=details)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["evidence"] = list(self.evidence)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutoResult:
        return cls(
            available=bool(data["available"]),
            passed=data.get("passed"),
            summary=str(data.get("summary", "")),
            details=dict(data.get("details", {})),
            evidence=tuple(data.get("evidence", ())),
        )


@dataclass(frozen=True)
class Actor:
    """Who caused a transition: the bot, the student or one of the examiners."""

    role: str  # bot | student | examiner | expert | organizer
    name: str = ""
    peer_id: str = ""
    person_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Actor:
        return cls(**{k: str(data.get(k, "")) for k in ("role", "name", "peer_id", "person_id")})


BOT = Actor(role="bot", name="proctorbot")


@dataclass
class StepRecord:
    kind: StepKind
    time_limit_s: float
    max_attempts: int
    requires_confirmation: bool
    # False: a final failure is recorded but does not block admission.
    required: bool = True
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: str | None = None  # ISO 8601 UTC of the current attempt
    finished_at: str | None = None
    auto: AutoResult | None = None
    evidence: list[str] = field(default_factory=list)  # every attempt's, in order
    decided_by: Actor | None = None
    reason: str = ""  # the examiner's reason for an override or a rejection
    failure: str = ""  # why the last attempt failed (timeout, auto check, ...)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "time_limit_s": self.time_limit_s,
            "max_attempts": self.max_attempts,
            "requires_confirmation": self.requires_confirmation,
            "required": self.required,
            "status": str(self.status),
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "auto": self.auto.to_json() if self.auto else None,
            "evidence": list(self.evidence),
            "decided_by": self.decided_by.to_json() if self.decided_by else None,
            "reason": self.reason,
            "failure": self.failure,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        return cls(
            kind=StepKind(data["kind"]),
            time_limit_s=float(data["time_limit_s"]),
            max_attempts=int(data["max_attempts"]),
            requires_confirmation=bool(data["requires_confirmation"]),
            required=bool(data.get("required", True)),
            status=StepStatus(data["status"]),
            attempts=int(data["attempts"]),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            auto=AutoResult.from_json(data["auto"]) if data.get("auto") else None,
            evidence=list(data.get("evidence", [])),
            decided_by=Actor.from_json(data["decided_by"]) if data.get("decided_by") else None,
            reason=str(data.get("reason", "")),
            failure=str(data.get("failure", "")),
        )


@dataclass(frozen=True)
class ConsentRecord:
    """The student's answer, with the time and the version of the text they saw."""

    given: bool
    at: str
    text_version: str
    language: str
    actor: Actor

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["actor"] = self.actor.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsentRecord:
        return cls(
            given=bool(data["given"]),
            at=str(data["at"]),
            text_version=str(data["text_version"]),
            language=str(data["language"]),
            actor=Actor.from_json(data["actor"]),
        )


@dataclass(frozen=True)
class Transition:
    """One change of the run, kept forever (the audit trail of the checklist)."""

    seq: int
    at: str
    step: StepKind | None
    action: str
    actor: Actor
    from_status: StepStatus | None
    to_status: StepStatus | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "step": str(self.step) if self.step else None,
            "action": self.action,
            "actor": self.actor.to_json(),
            "from_status": str(self.from_status) if self.from_status else None,
            "to_status": str(self.to_status) if self.to_status else None,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transition:
        return cls(
            seq=int(data["seq"]),
            at=str(data["at"]),
            step=StepKind(data["step"]) if data.get("step") else None,
            action=str(data["action"]),
            actor=Actor.from_json(data["actor"]),
            from_status=StepStatus(data["from_status"]) if data.get("from_status") else None,
            to_status=StepStatus(data["to_status"]) if data.get("to_status") else None,
            detail=dict(data.get("detail", {})),
        )


@dataclass
class ChecklistRun:
    """The whole checklist of one session; ``revision`` grows with every transition."""

    session_id: str
    profile: str
    student_name: str
    language: str
    steps: list[StepRecord]
    mode: ExamMode = ExamMode.PROCTORED
    outcome: RunOutcome = RunOutcome.IN_PROGRESS
    consent: ConsentRecord | None = None
    revision: int = 0
    created_at: str = ""
    finished_at: str | None = None
    transitions: list[Transition] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.outcome is not RunOutcome.IN_PROGRESS

    @property
    def current(self) -> StepRecord | None:
        """The first step not yet done, or None once every step is done or the run ended."""
        if self.finished:
            return None
        for step in self.steps:
            if not self.settled(step):
                return step
        return None

    def settled(self, step: StepRecord) -> bool:
        """Nothing more to do for it: done, an optional step failed, or consent refused
        where the exam goes on without biometrics."""
        if step.done:
            return True
        if step.status is StepStatus.FAILED and not step.required:
            return True
        return step.kind is StepKind.CONSENT and self.mode is ExamMode.NON_BIOMETRIC

    def step(self, kind: StepKind) -> StepRecord:
        for step in self.steps:
            if step.kind is kind:
                return step
        raise KeyError(f"this checklist has no {kind} step")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "session_id": self.session_id,
            "profile": self.profile,
            "student_name": self.student_name,
            "language": self.language,
            "mode": str(self.mode),
            "outcome": str(self.outcome),
            "consent": self.consent.to_json() if self.consent else None,
            "revision": self.revision,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "steps": [step.to_json() for step in self.steps],
            "transitions": [t.to_json() for t in self.transitions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChecklistRun:
        return cls(
            session_id=str(data["session_id"]),
            profile=str(data["profile"]),
            student_name=str(data["student_name"]),
            language=str(data["language"]),
            steps=[StepRecord.from_json(s) for s in data["steps"]],
            mode=ExamMode(data.get("mode", ExamMode.PROCTORED)),
            outcome=RunOutcome(data.get("outcome", RunOutcome.IN_PROGRESS)),
            consent=ConsentRecord.from_json(data["consent"]) if data.get("consent") else None,
            revision=int(data.get("revision", 0)),
            created_at=str(data.get("created_at", "")),
            finished_at=data.get("finished_at"),
            transitions=[Transition.from_json(t) for t in data.get("transitions", [])],
        )
