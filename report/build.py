"""Assemble a session's report: read the folder, run the rules, score, lay out players.

``build_report`` is pure (reads files, writes nothing); ``write_report`` in
report/output.py writes the HTML, the JSON and, on request, the PDFs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from proctorbot.config.profiles import RuleProfile
from proctorbot.report.session_files import (
    MediaFile,
    SessionFolder,
    checklist_failures,
    read_session_folder,
)
from proctorbot.report.speech import speech_by_participant
from proctorbot.rules.engine import evaluate
from proctorbot.rules.findings import Decision, Finding
from proctorbot.rules.score import TrustScore, trust_score

BROWSER_PLAYABLE = (".webm", ".mp4", ".ogg", ".opus", ".wav", ".m4a", ".mp3")
AUDIO_ONLY = (".ogg", ".opus", ".wav", ".m4a", ".mp3")
EVERYONE = "*"  # the recorder's composite (a grid of everyone) belongs to no one participant


@dataclass(frozen=True)
class SessionInfo:
    """What the database knows about the session; all optional for a bare folder."""

    title: str = ""
    student_name: str = ""
    student_group: str = ""
    examiners: tuple[str, ...] = ()
    organization: str = ""
    starts_at: dt.datetime | None = None
    exam_day: str = ""
    timezone: str = "Europe/Moscow"  # documents show local time


@dataclass(frozen=True)
class PlayerSegment:
    src: str  # relative to the session folder
    offset: float
    duration: float


@dataclass(frozen=True)
class Player:
    """One participant's recording in the page: a list of segments played as one."""

    participant: str
    label: str
    element: str  # video | audio
    segments: tuple[PlayerSegment, ...]


@dataclass
class SessionReport:
    folder: SessionFolder
    profile: RuleProfile
    findings: list[Finding]
    decisions: dict[str, Decision]
    score: TrustScore
    speech: dict[str, list[tuple[float, float]]]
    players: list[Player]
    unplayable: list[MediaFile]
    info: SessionInfo = field(default_factory=SessionInfo)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def session_id(self) -> str:
        return self.folder.session_id

    @property
    def language(self) -> str:
        return self.profile.language

    @property
    def counted_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.counts]

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)


def build_report(
    session_dir: Path,
    profile: RuleProfile,
    *,
    decisions: Mapping[str, Decision] | None = None,
    info: SessionInfo | None = None,
    now: dt.datetime | None = None,
    probe: bool = True,
) -> SessionReport:
    folder = read_session_folder(Path(session_dir), probe=probe)
    findings = evaluate(folder.events, profile)
    decisions = dict(decisions or {})
    required = {step.kind for step in profile.checklist.steps if step.required}
    failed = checklist_failures(folder.checklist, required)
    score = trust_score(findings, profile, decisions, failed)
    players, unplayable = choose_players(folder)
    return SessionReport(
        folder=folder,
        profile=profile,
        findings=findings,
        decisions=decisions,
        score=score,
        speech=speech_by_participant(folder),
        players=players,
        unplayable=unplayable,
        info=info or SessionInfo(),
        generated_at=now or dt.datetime.now(dt.UTC),
    )


def choose_players(folder: SessionFolder) -> tuple[list[Player], list[MediaFile]]:
    """Per participant: composite, else browser-playable video, else audio.

    Media the browser cannot play (raw IVF, damaged, missing) is returned separately
    so the page can name it instead of showing a broken player.
    """
    groups: dict[str, list[MediaFile]] = {}
    for media in folder.media:
        groups.setdefault(media.participant, []).append(media)
    players: list[Player] = []
    unplayable: list[MediaFile] = []
    for participant, files in groups.items():
        usable = [
            m for m in files if m.playable and Path(m.path).suffix.lower() in BROWSER_PLAYABLE
        ]
        unplayable.extend(m for m in files if m.kind != "analysis" and m not in usable)
        chosen: list[MediaFile] = []
        for kind in ("composite", "video", "audio"):
            chosen = sorted((m for m in usable if m.kind == kind), key=lambda m: m.offset)
            if chosen:
                break
        if not chosen:
            continue
        element = "audio" if Path(chosen[0].path).suffix.lower() in AUDIO_ONLY else "video"
        label = folder.name_of(participant) if participant not in ("", EVERYONE) else ""
        segments = tuple(PlayerSegment(m.path, m.offset, m.duration) for m in chosen)
        players.append(Player(participant, label, element, segments))
    # The composite (everyone's video) first, then the student, the examiners, the rest.
    players.sort(
        key=lambda p: (
            p.participant != EVERYONE,
            _role_rank(folder.role_of(p.participant)),
            p.label,
        )
    )
    return players, unplayable


def _role_rank(role: str) -> int:
    return {"student": 0, "examiner": 1, "expert": 2}.get(role, 3)
