"""Rule profiles: each institution's numbers as a data file, validated on load.

A profile is ``config/profiles/<name>.toml`` (or any TOML path). It sets the checklist
steps and their order, the thresholds the rule engine counts against, how findings
lower the trust score, whether an automatic verdict is allowed, retention, reminders,
who is notified of what, and the language. Every key is checked: a typo names the
key and the file instead of being silently ignored.

Other areas read, for example::

    profile = load_profile("university-admission")
    [step.id for step in profile.checklist.steps]      # checklist/
    profile.reminders.offsets_minutes                   # scheduling/
    profile.notify.recipients("gross_violation")        # notifications/
"""

from __future__ import annotations

import enum
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PROFILES_DIR = Path(__file__).parent / "profiles"

Severity = Literal["note", "minor", "violation", "gross"]
SEVERITIES: tuple[str, ...] = ("note", "minor", "violation", "gross")
Recipient = Literal["organizer", "examiner", "expert", "student", "technician"]
Channel = Literal["telegram", "email"]
Language = Literal["ru", "en"]


class StepKind(enum.StrEnum):
    """The checklist's steps: a profile lists them, checklist/ runs them."""

    CONSENT = "consent"
    EQUIPMENT = "equipment"
    ROOM_SCAN = "room_scan"
    DESK = "desk"
    ID_DOCUMENT = "id_document"
    NAME_ALOUD = "name_aloud"
    INSTRUCTION = "instruction"
    # The second camera (the student's phone, a side view) is placed and recording.
    PHONE_CAMERA = "phone_camera"
    # The screen is shared (the whole screen) and its picture arrives [002 §5.9]; needs
    # ``record_screen``.
    SCREEN_SHARE = "screen_share"


# Steps that check the student's devices, not the person or the room: a trial call runs
# these (after consent) and nothing else. A new device step adds its kind here.
EQUIPMENT_STEP_KINDS: frozenset[str] = frozenset({"equipment", "phone_camera", "screen_share"})


class ProfileError(Exception):
    """A profile that cannot be used; the message names the file and the key."""


class _Part(BaseModel):
    """A profile section: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChecklistStep(_Part):
    """One step; unset limits fall back to the checklist engine's defaults."""

    kind: StepKind
    # False: a failure is recorded but does not block admission.
    required: bool = True
    time_limit_s: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)
    # Seconds of camera/microphone the automatic check may use (the room scan records up
    # to this long, stopping once the room is covered; default 60 s there).
    capture_s: float | None = Field(default=None, gt=0)
    # True: even a passed automatic check waits for an examiner's confirmation.
    requires_confirmation: bool | None = None

    @property
    def id(self) -> str:
        return self.kind


class Checklist(_Part):
    steps: tuple[ChecklistStep, ...]
    start_minutes_before: float = Field(default=15.0, ge=0)
    # Identity not confirmed = not admitted [004 §4.2, 002 §5.8].
    identity_required: bool = True
    # The equipment step confirms every source is recording [002 §5.9]; with this on,
    # the screen is one of them [004 §4.4, 001 §4.2].
    record_screen: bool = False
    # With the screen recorded: a snapshot of it this often goes into the evidence.
    screen_snapshot_every_s: float = Field(default=30.0, gt=0)
    # A second camera: the student's phone joins by a QR code on their page as a side
    # view of the desk and hands [002 §5.9]; its own source, recorded and watched.
    # The step { kind = "phone_camera" } (the examiner confirms its snapshot) needs it.
    phone_camera: bool = False
    # Refusing biometrics: the exam goes on without automated proctoring [001 §1.8].
    non_biometric_allowed: bool = True
    consent_text_version: str = "2026-1"

    @field_validator("steps")
    @classmethod
    def _steps_unique(cls, steps: tuple[ChecklistStep, ...]) -> tuple[ChecklistStep, ...]:
        if not steps:
            raise ValueError("the checklist needs at least one step")
        if steps[0].kind != "consent":
            # Recording and biometrics need the student's consent before anything else
            # [001 §1.6-1.8, 002 §5.2-5.4]: every profile starts with it.
            raise ValueError(
                f'the first step must be {{ kind = "consent" }}, not {str(steps[0].kind)!r}'
                " (consent to recording and biometrics comes before anything else)"
            )
        seen: set[str] = set()
        for step in steps:
            if step.kind in seen:
                raise ValueError(f"step {str(step.kind)!r} appears twice")
            seen.add(step.kind)
        return steps

    @model_validator(mode="after")
    def _source_steps_need_their_source(self) -> Checklist:
        if StepKind.PHONE_CAMERA in self.step_ids and not self.phone_camera:
            raise ValueError(
                'the step { kind = "phone_camera" } needs phone_camera = true in [checklist]'
            )
        if StepKind.SCREEN_SHARE in self.step_ids and not self.record_screen:
            raise ValueError(
                'the step { kind = "screen_share" } needs record_screen = true in [checklist]'
            )
        return self

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(step.kind for step in self.steps)


class Thresholds(_Part):
    """Numbers from the regulations; times in seconds, shares as fractions of 1."""

    # Leaving the workplace (face absent / participant left), total allowed [004 §4.8].
    away_total_seconds: float = Field(default=300.0, ge=0)
    # 002 §6.3.4: leaving the camera's view at all is gross when not allowed.
    away_is_gross: bool = False
    # Loss of video for technical reasons, total allowed [004 §4.9, 001 §4.4].
    technical_interruption_total_seconds: float = Field(default=900.0, ge=0)
    # The face's share of the frame [000 §6.6: 0.20, 001 §4.3: 0.10].
    min_face_share: float = Field(default=0.10, gt=0, lt=1)
    face_too_small_min_seconds: float = Field(default=10.0, ge=0)
    # Looking away longer than this is a finding [002 §7, 000 §6.7].
    look_away_seconds: float = Field(default=5.0, gt=0)
    # Short glances: this many within the window is a finding ("repeated glances").
    glance_count: int = Field(default=10, ge=2)
    glance_window_seconds: float = Field(default=300.0, gt=0)
    # The same violation this many times (the student warned each time) = gross [002].
    repeated_offence_count: int = Field(default=3, ge=2)
    inactivity_seconds: float = Field(default=900.0, gt=0)
    no_audio_seconds: float = Field(default=30.0, ge=0)
    # Lighting, covered face: shorter episodes are only notes.
    condition_min_seconds: float = Field(default=10.0, ge=0)
    # Other voices, another person: shorter detections are only notes.
    third_party_min_seconds: float = Field(default=1.0, ge=0)
    # The second camera (phone) out of the call, total allowed; its own allowance, never
    # counted as the student's time away.
    phone_away_allowance_s: float = Field(default=60.0, ge=0)
    # The screen not shared (sharing stopped, the source gone), total allowed.
    screen_away_allowance_s: float = Field(default=30.0, ge=0)


class SeverityMap(_Part):
    """The severity of a finding of each detector kind when it crosses its threshold."""

    third_party_voice: Severity = "violation"
    overlapped_speech: Severity = "minor"
    no_audio: Severity = "violation"
    extra_person: Severity = "violation"
    away: Severity = "violation"
    face_too_small: Severity = "minor"
    looking_away: Severity = "minor"
    repeated_glances: Severity = "minor"
    face_covered: Severity = "violation"
    too_dark: Severity = "minor"
    backlit: Severity = "minor"
    technical_interruption: Severity = "violation"
    person_replaced: Severity = "gross"
    inactivity: Severity = "violation"
    phone_away: Severity = "violation"
    screen_stopped: Severity = "violation"


class ScoreWeights(_Part):
    """Points a finding of each severity takes off the trust score of 100."""

    note: float = Field(default=0.0, ge=0)
    minor: float = Field(default=4.0, ge=0)
    violation: float = Field(default=12.0, ge=0)
    gross: float = Field(default=35.0, ge=0)
    # A required checklist step that failed (identity, room scan ...).
    checklist_step_failed: float = Field(default=15.0, ge=0)
    # Cap per rule so one noisy detector cannot zero the score alone.
    max_per_rule: float = Field(default=40.0, ge=0)

    def points(self, severity: str) -> float:
        return float(getattr(self, severity))


class Verdict(_Part):
    # Off by default: the examiner decides; the system flags with evidence.
    auto_fail: bool = False
    fail_below_score: float = Field(default=40.0, ge=0, le=100)
    fail_on_gross: bool = True


class Retention(_Part):
    recordings_days: int = Field(ge=1)
    evidence_days: int = Field(ge=1)
    # A session under appeal keeps everything until the hold is lifted [004 §5].
    legal_hold_on_appeal: bool = True


class Reminders(_Part):
    # Minutes before the slot when reminders go out (largest first).
    offsets_minutes: tuple[int, ...] = (1440, 60, 15)
    to: tuple[Recipient, ...] = ("student", "examiner")
    # Link + date/time sent no later than this many days before [004 §3.3].
    link_days_before: int = Field(default=1, ge=0)


class Notify(_Part):
    """Who is told of what; each value is a list of recipients (may be empty)."""

    channels: tuple[Channel, ...] = ("telegram", "email")
    session_started: tuple[Recipient, ...] = ()
    checklist_failed: tuple[Recipient, ...] = ("examiner", "organizer")
    violation: tuple[Recipient, ...] = ("examiner",)
    gross_violation: tuple[Recipient, ...] = ("examiner", "organizer")
    technical_interruption: tuple[Recipient, ...] = ("examiner", "technician")
    report_ready: tuple[Recipient, ...] = ("organizer",)
    session_missed: tuple[Recipient, ...] = ("organizer",)

    def recipients(self, what: str) -> tuple[str, ...]:
        if what == "channels" or what not in type(self).model_fields:
            raise KeyError(f"no notification rule named {what!r}")
        return tuple(getattr(self, what))


class Documents(_Part):
    """Which signed documents the report offers (seed 004's forms)."""

    protocol: bool = True
    termination_act: bool = True
    annulment_act: bool = True
    institution: str = ""
    regulation: str = ""


class DetectorRule(_Part):
    """A detector a profile adds in one line (``[[detectors]]``): where its code is (a
    ``detection.frame_detectors.FrameDetector``), what it reads, and its rule: an episode
    of at least ``min_seconds`` is a finding of ``severity``. Its name for people is
    ``config/locales/<lang>/detectors.toml`` ``[<kind>] name``."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{2,40}$")
    detector: str = Field(pattern=r"^[\w.]+:\w+$")  # "package.module:Class"
    source: Literal["video"] = "video"  # the student's camera
    min_seconds: float = Field(default=1.0, ge=0)
    severity: Severity = "violation"


class PageFocus(_Part):
    """The exam page stays the active full-screen window [001 §4]: the student's call page
    reports the tab hidden, another window in front and, where required, leaving full
    screen (``page_hidden``, ``window_blur``, ``fullscreen_left`` events); overlapping
    reports are one episode of the rule ``page_focus``, counted like time away: summed,
    within ``allowance_seconds`` a note, beyond it a finding of ``severity``."""

    # Ask the student to go full screen (a button: browsers need a click) and count the
    # time outside it.
    require_fullscreen: bool = False
    # Total time off the exam page allowed before it is a finding.
    allowance_seconds: float = Field(default=0.0, ge=0)
    # Shorter episodes (a click on the browser's own bar) are notes and use no allowance.
    min_seconds: float = Field(default=2.0, ge=0)
    severity: Severity = "violation"
    # False: the episodes are recorded and shown, as notes only.
    counts: bool = True


class TrialCall(_Part):
    """A test call with recording before the exam [003 §3]: the planner places one per
    student ``days_before`` calendar days earlier, same local time, ``minutes`` long; the
    bot runs consent and the equipment steps, records ``sample_seconds`` and leaves."""

    enabled: bool = False
    days_before: int = Field(default=1, ge=1)
    minutes: int = Field(default=10, ge=2)
    sample_seconds: float = Field(default=20.0, gt=0)
    # Reminders before the trial call (minutes); the exam's own go out as before.
    reminder_offsets_minutes: tuple[int, ...] = (1440, 15)


class RuleProfile(_Part):
    name: str
    title: str
    source: str = ""
    language: Language = "ru"
    checklist: Checklist
    thresholds: Thresholds = Thresholds()
    severity: SeverityMap = SeverityMap()
    score: ScoreWeights = ScoreWeights()
    verdict: Verdict = Verdict()
    retention: Retention
    reminders: Reminders = Reminders()
    notify: Notify = Notify()
    documents: Documents = Documents()
    detectors: tuple[DetectorRule, ...] = ()
    focus: PageFocus = PageFocus()
    trial_call: TrialCall = TrialCall()


def profile_names(profiles_dir: Path = PROFILES_DIR) -> list[str]:
    return sorted(path.stem for path in profiles_dir.glob("*.toml"))


def profile_path(name_or_path: str | Path, profiles_dir: Path = PROFILES_DIR) -> Path:
    """A preset name (``examus-like``) or a path to a TOML file."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise ProfileError(f"profile file not found: {path}")
        return path
    path = profiles_dir / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(profile_names(profiles_dir)) or "none"
        raise ProfileError(f"no rule profile named {text!r} (known: {known})")
    return path


def load_profile(name_or_path: str | Path, profiles_dir: Path = PROFILES_DIR) -> RuleProfile:
    """Load and validate a profile; any problem raises ProfileError naming file and key."""
    path = profile_path(name_or_path, profiles_dir)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    try:
        return RuleProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_describe(path, exc)) from None


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (a typo?)")
        elif err["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {err['msg']}")
    return f"invalid rule profile {path}:\n" + "\n".join(lines)
