"""Which steps a session's checklist has, in which order, with which limits.

The numbers come from the session's rule profile (``profile.checklist``); this module
turns whatever the profile holds into a typed ``ChecklistPlan`` and supplies the
defaults for anything the profile leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proctorbot.checklist.records import IDENTITY_STEPS, StepKind, StepRecord

DEFAULT_ORDER: tuple[StepKind, ...] = (
    StepKind.CONSENT,
    StepKind.EQUIPMENT,
    StepKind.ROOM_SCAN,
    StepKind.DESK,
    StepKind.ID_DOCUMENT,
    StepKind.NAME_ALOUD,
    StepKind.INSTRUCTION,
)

DEFAULT_TIME_LIMITS: dict[StepKind, float] = {
    StepKind.CONSENT: 300.0,
    StepKind.EQUIPMENT: 60.0,
    StepKind.ROOM_SCAN: 90.0,
    StepKind.DESK: 60.0,
    StepKind.ID_DOCUMENT: 90.0,
    StepKind.NAME_ALOUD: 45.0,
    StepKind.INSTRUCTION: 300.0,
    StepKind.PHONE_CAMERA: 180.0,  # to scan the QR code, open the link and place the phone
    StepKind.SCREEN_SHARE: 120.0,  # to press the button and pick the whole screen
}

# The desk has no reliable automatic check: the examiner looks at the snapshot; the same
# for the phone's side view (is it placed so that the student, desk and hands are seen?).
DEFAULT_CONFIRMATION: frozenset[StepKind] = frozenset({StepKind.DESK, StepKind.PHONE_CAMERA})


class PlanError(ValueError):
    """The profile's checklist section cannot be used (unknown step, bad number)."""


@dataclass(frozen=True)
class StepPlan:
    kind: StepKind
    time_limit_s: float
    max_attempts: int = 2
    # True: even a passed automatic check waits for an examiner's confirmation.
    requires_confirmation: bool = False
    # False: a final failure is recorded but does not block admission.
    required: bool = True

    def new_record(self) -> StepRecord:
        return StepRecord(
            kind=self.kind,
            time_limit_s=self.time_limit_s,
            max_attempts=self.max_attempts,
            requires_confirmation=self.requires_confirmation,
            required=self.required,
        )


@dataclass(frozen=True)
class ChecklistPlan:
    steps: tuple[StepPlan, ...]
    # Refusing biometrics: offer the exam without automated proctoring [001 §1.8]?
    non_biometric_allowed: bool = True
    consent_text_version: str = "2026-1"
    # Seconds of capture the automatic checks use.
    capture_seconds: Mapping[StepKind, float] = field(
        default_factory=lambda: {
            StepKind.EQUIPMENT: 3.0,
            StepKind.ROOM_SCAN: 60.0,  # at most: the check stops once the room is covered
            StepKind.DESK: 2.0,
            StepKind.ID_DOCUMENT: 6.0,
            StepKind.NAME_ALOUD: 8.0,
            StepKind.PHONE_CAMERA: 2.0,
            StepKind.SCREEN_SHARE: 2.0,
        }
    )

    def __post_init__(self) -> None:
        kinds = [s.kind for s in self.steps]
        if len(set(kinds)) != len(kinds):
            raise PlanError(f"a checklist step is listed twice: {[str(k) for k in kinds]}")
        if not kinds:
            raise PlanError("the checklist has no steps")
        for step in self.steps:
            if step.time_limit_s <= 0 or step.max_attempts < 1:
                raise PlanError(f"step {step.kind}: time limit and attempts must be positive")

    @classmethod
    def default(cls) -> ChecklistPlan:
        return cls.from_step_names([str(kind) for kind in DEFAULT_ORDER])

    @classmethod
    def from_step_names(cls, names: Iterable[str], **options: Any) -> ChecklistPlan:
        steps = []
        for name in names:
            try:
                kind = StepKind(str(name).strip().lower().replace("-", "_"))
            except ValueError:
                known = ", ".join(str(k) for k in StepKind)
                raise PlanError(f"unknown checklist step {name!r}; known: {known}") from None
            steps.append(
                StepPlan(
                    kind=kind,
                    time_limit_s=DEFAULT_TIME_LIMITS[kind],
                    requires_confirmation=kind in DEFAULT_CONFIRMATION,
                )
            )
        return cls(steps=tuple(steps), **options)

    @classmethod
    def from_profile(cls, profile: Any) -> ChecklistPlan:
        """Read ``profile.checklist`` (an object or a mapping) as written by config/profiles.py.

        Understood fields: ``steps`` (names, or objects/mappings with ``kind``/``name``,
        ``time_limit_s``, ``max_attempts``, ``requires_confirmation``, ``required``,
        ``capture_s``),
        ``identity_required``, ``non_biometric_allowed``, ``consent_text_version``,
        ``time_limits`` (name → s).
        """
        section = _get(profile, "checklist", None)
        if section is None:
            return cls.default()
        raw_steps = _get(section, "steps", None) or [str(k) for k in DEFAULT_ORDER]
        time_limits = dict(_get(section, "time_limits", None) or {})
        identity_required = _get(section, "identity_required", True) is not False
        steps: list[StepPlan] = []
        for raw in raw_steps:
            if isinstance(raw, str):
                name, extra = raw, {}
            else:
                name = _get(raw, "kind", None) or _get(raw, "name", None)
                extra = {
                    key: _get(raw, key, None)
                    for key in (
                        "time_limit_s",
                        "max_attempts",
                        "requires_confirmation",
                        "required",
                        "capture_s",
                    )
                }
            base = cls.from_step_names([str(name)]).steps[0]
            limit = extra.get("time_limit_s") or time_limits.get(str(base.kind))
            steps.append(
                StepPlan(
                    kind=base.kind,
                    time_limit_s=float(limit) if limit else base.time_limit_s,
                    max_attempts=int(extra.get("max_attempts") or base.max_attempts),
                    requires_confirmation=bool(
                        extra["requires_confirmation"]
                        if extra.get("requires_confirmation") is not None
                        else base.requires_confirmation
                    ),
                    required=extra.get("required") is not False
                    and (identity_required or base.kind not in IDENTITY_STEPS),
                )
            )
        options: dict[str, Any] = {}
        captures = {
            step.kind: float(raw_capture)
            for step, raw in zip(steps, raw_steps, strict=True)
            if not isinstance(raw, str) and (raw_capture := _get(raw, "capture_s", None))
        }
        if captures:
            options["capture_seconds"] = {**cls.default().capture_seconds, **captures}
        for key in ("non_biometric_allowed", "consent_text_version"):
            value = _get(section, key, None)
            if value is not None:
                options[key] = value
        return cls(steps=tuple(steps), **options)

    def new_records(self) -> list[StepRecord]:
        return [step.new_record() for step in self.steps]


def _get(obj: Any, key: str, default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)
