"""Detector events → findings, counted against the session's rule profile.

The one rule engine: the bot's live alerts and the report both call ``evaluate`` on the
events so far, so an alert and the report's finding never disagree. Events are grouped
into episodes first (``rules.episodes``, pyannote.core spans).

Three kinds of rule:

* **cumulative** (time away from the workplace, technical interruptions): episodes are
  summed; episodes within the allowance are notes, the one that crosses it and every
  later one is a finding [004 §4.8, §4.9];
* **duration** (looking away, other voices, lighting ...): an episode longer than the
  profile's minimum is a finding, a shorter one a note; short glances are counted and
  too many in a window is a finding of their own [002 §7];
* **always** (a different person after identification): gross at once [002 §6.3.4].

Then **repetition**: the bot warns the student at each finding of severity
"violation"; the profile's ``repeated_offence_count``-th finding of the same rule and
every later one becomes gross [002 §6.3.4].

Only what concerns the student counts: an event on another participant's track (the
examiner's connection dropping, an expert leaving: tracks ``examiner-…``, ``expert-…``)
is never a finding against the student and never uses the student's allowances; the
report's timeline still shows those gaps on that participant's own row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from proctorbot.config.profiles import RuleProfile
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.recording.manifest import RECORDING_FAULT_REASONS
from proctorbot.rules.episodes import Episode, merge_episodes
from proctorbot.rules.findings import Finding, finding_id

AWAY_KINDS = frozenset({EventKind.FACE_ABSENT, EventKind.PARTICIPANT_LEFT})
TECHNICAL_KINDS = frozenset({EventKind.VIDEO_LOST, EventKind.FROZEN_VIDEO, EventKind.BLACK_VIDEO})
# The call page off the screen [001 §4]; leaving full screen counts where it is required.
FOCUS_KINDS = frozenset({EventKind.PAGE_HIDDEN, EventKind.WINDOW_BLUR, EventKind.FULLSCREEN_LEFT})
# Event kind → (rule name, the Thresholds field with the minimum episode length).
DURATION_RULES: dict[EventKind, tuple[str, str]] = {
    EventKind.THIRD_PARTY_VOICE: ("third_party_voice", "third_party_min_seconds"),
    EventKind.OVERLAPPED_SPEECH: ("overlapped_speech", "third_party_min_seconds"),
    EventKind.EXTRA_PERSON: ("extra_person", "third_party_min_seconds"),
    EventKind.NO_AUDIO: ("no_audio", "no_audio_seconds"),
    EventKind.FACE_TOO_SMALL: ("face_too_small", "face_too_small_min_seconds"),
    EventKind.FACE_COVERED: ("face_covered", "condition_min_seconds"),
    EventKind.TOO_DARK: ("too_dark", "condition_min_seconds"),
    EventKind.BACKLIT: ("backlit", "condition_min_seconds"),
    EventKind.INACTIVITY: ("inactivity", "inactivity_seconds"),
}
# Every kind a rule reads; tests check no detector kind is left without a rule.
HANDLED_KINDS = (
    AWAY_KINDS
    | TECHNICAL_KINDS
    | set(DURATION_RULES)
    | FOCUS_KINDS
    | {EventKind.LOOKING_AWAY, EventKind.PERSON_REPLACED}
)
# Severities that repetition escalates; minor findings and notes never become gross.
ESCALATING = frozenset({"violation"})
# Participant keys are "<role>-<id>" (recording.session_recorder.participant_key): events
# on these roles' tracks are about someone other than the student.
OTHER_ROLES = frozenset({"examiner", "expert", "organizer", "bot"})
# A person's other sources (conference/rooms.DEVICES: tracks "<role>-<id>-<device>"): the
# phone as a second camera and the screen share. Their gaps are not the student's time
# away: each has a rule and an allowance of its own (rule name, Thresholds field). A source
# still connected but showing nothing (the phone put face down: black; stuck: frozen) is
# out of use the same way: its technical kinds count there too, never as the student's
# video interruption.
SOURCE_GAP_KINDS = frozenset({EventKind.PARTICIPANT_LEFT}) | TECHNICAL_KINDS
SOURCE_GAP_RULES: dict[str, tuple[str, str]] = {
    "phone": ("phone_away", "phone_away_allowance_s"),
    "screen": ("screen_stopped", "screen_away_allowance_s"),
}


def recording_fault(event: DetectorEvent) -> bool:
    """A gap the recording caused (no bot recording, a full disk), never the participant's
    absence (``RECORDING_FAULT_REASONS``)."""
    return (
        event.kind == EventKind.PARTICIPANT_LEFT
        and str(event.details.get("reason", "")) in RECORDING_FAULT_REASONS
    )


def concerns_student(event: DetectorEvent) -> bool:
    """True unless the event's track belongs to an examiner, expert, organizer or the bot."""
    role, _, rest = event.track.partition("-")
    return not (rest and role in OTHER_ROLES)


def source_device(track: str) -> str:
    """The device of a track's source: "phone", "screen", or "main" (the laptop)."""
    device = track.rsplit("-", 1)[-1] if track.count("-") >= 2 else ""
    return device if device in SOURCE_GAP_RULES else "main"


def evaluate(events: Iterable[DetectorEvent], profile: RuleProfile) -> list[Finding]:
    """All findings of a session, in time order, severities final (after repetition)."""
    events = [e for e in events if concerns_student(e) and not recording_fault(e)]
    findings: list[Finding] = []
    for device, (rule, allowance) in SOURCE_GAP_RULES.items():
        findings += _cumulative(
            [e for e in events if e.kind in SOURCE_GAP_KINDS and source_device(e.track) == device],
            rule=rule,
            limit=float(getattr(profile.thresholds, allowance)),
            severity=getattr(profile.severity, rule),
        )
    findings += _cumulative(
        [e for e in events if e.kind in AWAY_KINDS and source_device(e.track) == "main"],
        rule="away",
        limit=profile.thresholds.away_total_seconds,
        severity="gross" if profile.thresholds.away_is_gross else profile.severity.away,
    )
    findings += _cumulative(
        [e for e in events if e.kind in TECHNICAL_KINDS and source_device(e.track) == "main"],
        rule="technical_interruption",
        limit=profile.thresholds.technical_interruption_total_seconds,
        severity=profile.severity.technical_interruption,
    )
    for kind, (rule, threshold_field) in DURATION_RULES.items():
        minimum = float(getattr(profile.thresholds, threshold_field))
        chosen = [e for e in events if e.kind == kind]
        if kind == EventKind.FACE_TOO_SMALL:
            chosen = [e for e in chosen if _face_share(e) < profile.thresholds.min_face_share]
        findings += _by_duration(chosen, rule, minimum, getattr(profile.severity, rule), profile)
    for added in profile.detectors:  # a detector the profile adds in one line
        chosen = [e for e in events if e.kind == added.kind]
        findings += _by_duration(chosen, added.kind, added.min_seconds, added.severity, profile)
    findings += _page_focus([e for e in events if e.kind in FOCUS_KINDS], profile)
    findings += _looking_away([e for e in events if e.kind == EventKind.LOOKING_AWAY], profile)
    for episode in merge_episodes(e for e in events if e.kind == EventKind.PERSON_REPLACED):
        findings.append(
            _finding("person_replaced", profile.severity.person_replaced, episode, "replaced", {})
        )
    findings.sort(key=lambda f: (f.start, f.rule))
    return _escalate_repeats(findings, profile.thresholds.repeated_offence_count)


def _face_share(event: DetectorEvent) -> float:
    for key in ("face_height_share", "face_share", "share"):
        if key in event.details:
            try:
                return float(event.details[key])
            except (TypeError, ValueError):
                break
    return 0.0  # the detector said "too small" and gave no number: trust it


def _cumulative(
    events: list[DetectorEvent], *, rule: str, limit: float, severity: str
) -> list[Finding]:
    findings = []
    total = 0.0
    for episode in merge_episodes(events):
        before = total
        total += episode.duration
        values = {"total": round(total, 1), "limit": round(limit, 1), "episode": episode.duration}
        if total > limit:
            reason = "cumulative_over" if before <= limit else "cumulative_again"
            findings.append(_finding(rule, severity, episode, reason, values))
        else:
            findings.append(_finding(rule, "note", episode, "cumulative_within", values))
    return findings


# Rules with a reason text of their own; a profile's added detector reads "duration".
DURATION_REASONS = frozenset(rule for rule, _ in DURATION_RULES.values())


def _by_duration(
    events: list[DetectorEvent], rule: str, minimum: float, severity: str, profile: RuleProfile
) -> list[Finding]:
    findings = []
    for episode in merge_episodes(events):
        values = {"duration": round(episode.duration, 1), "limit": round(minimum, 1)}
        if rule == "face_too_small":
            values["share"] = round(100 * profile.thresholds.min_face_share)
        if episode.duration >= minimum:
            reason = rule if rule in DURATION_REASONS else "duration"
            findings.append(_finding(rule, severity, episode, reason, values))
        else:
            findings.append(_finding(rule, "note", episode, "short", values))
    return findings


def _page_focus(events: list[DetectorEvent], profile: RuleProfile) -> list[Finding]:
    """Tab hidden, another window in front, out of full screen: overlapping reports are one
    episode; summed like time away, episodes under ``min_seconds`` only notes [001 §4]."""
    focus = profile.focus
    if not focus.require_fullscreen:
        events = [e for e in events if e.kind != EventKind.FULLSCREEN_LEFT]
    findings = []
    total = 0.0
    for episode in merge_episodes(events):
        what = _focus_what(episode.kinds)
        values = {"episode": round(episode.duration, 1), "limit": round(focus.allowance_seconds, 1)}
        if episode.duration < focus.min_seconds or not focus.counts:
            values["total"] = round(total, 1)
            findings.append(_finding("page_focus", "note", episode, f"focus_{what}_short", values))
            continue
        total += episode.duration
        values["total"] = round(total, 1)
        if total > focus.allowance_seconds:
            findings.append(
                _finding("page_focus", focus.severity, episode, f"focus_{what}", values)
            )
        else:
            findings.append(_finding("page_focus", "note", episode, f"focus_{what}_within", values))
    return findings


def _focus_what(kinds: tuple[str, ...]) -> str:
    """The reason's word for an episode: hidden beats another window beats full screen."""
    for kind, what in (
        (EventKind.PAGE_HIDDEN, "hidden"),
        (EventKind.WINDOW_BLUR, "blur"),
        (EventKind.FULLSCREEN_LEFT, "fullscreen"),
    ):
        if str(kind) in kinds:
            return what
    return "hidden"


def _looking_away(events: list[DetectorEvent], profile: RuleProfile) -> list[Finding]:
    limits = profile.thresholds
    findings = []
    glances: list[Episode] = []
    for episode in merge_episodes(events):
        if episode.duration > limits.look_away_seconds:
            values = {"duration": round(episode.duration, 1), "limit": limits.look_away_seconds}
            findings.append(
                _finding(
                    "looking_away", profile.severity.looking_away, episode, "looking_away", values
                )
            )
        else:
            glances.append(episode)
    # Repeated short glances: a finding each time the count within the window is reached.
    window_start = 0
    for index, glance in enumerate(glances):
        while glances[window_start].start < glance.start - limits.glance_window_seconds:
            window_start += 1
        in_window = glances[window_start : index + 1]
        if len(in_window) >= limits.glance_count:
            merged = Episode(
                start=in_window[0].start,
                end=glance.end,
                track=glance.track,
                kinds=(str(EventKind.LOOKING_AWAY),),
                evidence=tuple(p for g in in_window for p in g.evidence),
                details={},
            )
            values = {
                "count": len(in_window),
                "window": round(limits.glance_window_seconds / 60, 1),
            }
            findings.append(
                _finding(
                    "repeated_glances", profile.severity.repeated_glances, merged, "glances", values
                )
            )
            window_start = index + 1  # the next finding needs a fresh set of glances
    return findings


def _finding(rule: str, severity: str, episode: Episode, reason: str, values: dict) -> Finding:
    return Finding(
        id=finding_id(rule, episode.track, episode.start),
        rule=rule,
        severity=severity,
        start=episode.start,
        end=episode.end,
        track=episode.track,
        reason=reason,
        values=values,
        evidence=episode.evidence,
        event_kinds=episode.kinds,
    )


def _escalate_repeats(findings: list[Finding], repeat_count: int) -> list[Finding]:
    counted: dict[str, int] = {}
    result = []
    for finding in findings:
        if not finding.counts:
            result.append(finding)
            continue
        number = counted.get(finding.rule, 0) + 1
        counted[finding.rule] = number
        updated = replace(finding, occurrence=number)
        if finding.severity in ESCALATING and number >= repeat_count:
            values = {**finding.values, "occurrence": number, "repeat_limit": repeat_count}
            updated = replace(updated, severity="gross", values=values)
        result.append(updated)
    return result
