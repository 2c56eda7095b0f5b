"""The student's sources in the report's words: which device a recording is, and each
interruption of a source as a line people read.

A source is (person, device): the laptop (``<role>-<id>``), the phone as a second camera
(``…-phone``), the shared screen (``…-screen``). An interruption is a gap of the manifest
(the source left: the screen share stopped, the phone disconnected, the laptop gone, or
nothing recorded through the recording's own fault) or a source still connected that
showed nothing (the phone put face down: ``black_video`` / ``frozen_video`` on its track).
Every text comes from the catalogue (``report.gap.*``, ``report.device.*``): no track id,
reason code or key reaches the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from proctorbot.detection.events import EventKind
from proctorbot.recording.manifest import RECORDING_FAULT_REASONS
from proctorbot.report.session_files import SessionFolder
from proctorbot.rules.engine import source_device

# A source still in the call but without a picture: shown beside its gaps.
NO_PICTURE_KINDS = frozenset({EventKind.BLACK_VIDEO, EventKind.FROZEN_VIDEO})


@dataclass(frozen=True)
class SourceInterruption:
    participant: str
    device: str  # main | phone | screen
    cause: str  # left | black_video | frozen_video | a recording fault (bot_down, disk_full)
    start: float  # seconds from the recording start
    end: float
    text: str  # what happened, in words
    source: str  # whose source, in words ("Иванова Анна · экран")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def person_name(folder: SessionFolder, participant: str, texts: Mapping[str, str]) -> str:
    """Whose source it is: the name in the manifest (a device's, else their laptop's), else
    the role in words, never the track id (the track itself when it names no role)."""
    device = source_device(participant)
    main = participant if device == "main" else participant.rsplit("-", 1)[0]
    name = folder.name_of(participant)
    if name == participant:
        name = folder.name_of(main)
    if name in (participant, main):
        name = texts.get(f"roles.{main.split('-', 1)[0]}", name)
    return name


def source_label(folder: SessionFolder, participant: str, texts: Mapping[str, str]) -> str:
    """The person's name, and the device when it is not their laptop."""
    device = source_device(participant)
    name = person_name(folder, participant, texts)
    return name if device == "main" else f"{name} · {texts[f'device.{device}']}"


def gap_text(device: str, cause: str, texts: Mapping[str, str]) -> str:
    """``gap.<cause>`` for a recording fault, ``gap.<device>_<cause>`` for a source showing
    nothing, ``gap.<device>`` for a source gone."""
    if cause in RECORDING_FAULT_REASONS:
        return texts.get(f"gap.{cause}", texts["gap.recording"])
    if cause != "left":
        return texts.get(f"gap.{device}_{cause}", texts["gap.no_picture"])
    return texts.get(f"gap.{device}", texts["gap.main"])


def source_interruptions(
    folder: SessionFolder, texts: Mapping[str, str]
) -> list[SourceInterruption]:
    """Every interruption of every source, in time order."""
    found: list[SourceInterruption] = []

    def add(participant: str, cause: str, start: float, end: float) -> None:
        device = source_device(participant)
        found.append(
            SourceInterruption(
                participant=participant,
                device=device,
                cause=cause,
                start=start,
                end=max(start, end),
                text=gap_text(device, cause, texts),
                source=source_label(folder, participant, texts),
            )
        )

    for gap in folder.gaps:
        reason = str(gap.get("reason", ""))
        cause = reason if reason in RECORDING_FAULT_REASONS else "left"
        add(str(gap["participant"]), cause, float(gap["start"]), float(gap["end"]))
    # A condition is written open as it grows, then closed with the same start: one line.
    spans: dict[tuple[str, str, float], float] = {}
    for event in folder.events:
        if event.kind in NO_PICTURE_KINDS and source_device(event.track) != "main":
            key = (event.track, str(event.kind), event.start)
            spans[key] = max(spans.get(key, event.end), event.end)
    for (track, kind, start), end in spans.items():
        add(track, kind, start, end)
    found.sort(key=lambda item: (item.start, item.participant))
    return found
