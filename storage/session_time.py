"""One time convention for everything people read about a session.

Every event time is seconds from the start of the recording (``started_at`` in
``manifest.json``, the bot's ``started_at``). People see it as minutes:seconds, labelled
"from the start of the recording" (``12:34``, ``75:02`` past an hour: never mistaken
for a clock). Where a clock is shown as well, it is the wall-clock time in the exam
day's time zone (``ExamDay.timezone``; a session without a day uses the settings'
default), with the zone named: ``12:34 from the start of the recording (11:44:05,
Europe/Moscow)``. The report, the dashboard, the protocol and acts, the live alerts and
the call page all follow it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from proctorbot.config.catalogue import Catalogue

DEFAULT_ZONE = "Europe/Moscow"


def offset_text(seconds: float) -> str:
    """``754.2`` → ``12:34``: minutes (not wrapped at an hour) and seconds from the start."""
    total = max(0, int(round(seconds)))
    minutes, secs = divmod(total, 60)
    return f"{minutes:02d}:{secs:02d}"


def zone_of(name: str | None, default: str = DEFAULT_ZONE) -> tuple[str, ZoneInfo]:
    """The zone's name and object; an unknown or empty name falls back to ``default``."""
    for candidate in (name, default, DEFAULT_ZONE):
        if not candidate:
            continue
        try:
            return candidate, ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC", ZoneInfo("UTC")


def session_zone(db, session, default: str = DEFAULT_ZONE) -> str:  # noqa: ANN001
    """The exam day's time zone of a session (``default`` when it has no day)."""
    from proctorbot.storage.models import ExamDay

    if session is not None and session.exam_day_id:
        day = db.get(ExamDay, session.exam_day_id)
        if day is not None and day.timezone:
            return zone_of(day.timezone, default)[0]
    return zone_of(default)[0]


@dataclass(frozen=True)
class SessionClock:
    """Turns seconds from the recording start into the texts people read.

    ``started_at``: the recording start as a Unix time (None: unknown, no clock shown).
    """

    started_at: float | None
    zone: str = DEFAULT_ZONE

    @property
    def tz(self) -> ZoneInfo:
        return zone_of(self.zone)[1]

    def offset(self, seconds: float) -> str:
        return offset_text(seconds)

    def moment(self, seconds: float = 0.0) -> dt.datetime | None:
        """The wall-clock moment of an event time, in the exam day's zone."""
        if self.started_at is None:
            return None
        return dt.datetime.fromtimestamp(self.started_at + seconds, self.tz)

    def wall(self, seconds: float = 0.0, *, with_seconds: bool = True) -> str:
        """``11:44:05`` (or ``11:44``); empty when the recording start is unknown."""
        moment = self.moment(seconds)
        if moment is None:
            return ""
        return moment.strftime("%H:%M:%S" if with_seconds else "%H:%M")

    def at(self, seconds: float, catalogue: Catalogue) -> str:
        """``12:34 from the start of the recording (11:44:05, Europe/Moscow)``."""
        offset = self.offset(seconds)
        wall = self.wall(seconds)
        if not wall:
            return catalogue.text("report.when.at_no_clock", offset=offset)
        return catalogue.text("report.when.at", offset=offset, clock=wall, zone=self.zone)

    def span(self, start: float, end: float, catalogue: Catalogue) -> str:
        """``12:34–12:45 from the start of the recording (11:44:05–11:44:16, Europe/Moscow)``."""
        offset = f"{self.offset(start)}–{self.offset(end)}"
        if self.started_at is None:
            return catalogue.text("report.when.at_no_clock", offset=offset)
        clock = f"{self.wall(start)}–{self.wall(end)}"
        return catalogue.text("report.when.at", offset=offset, clock=clock, zone=self.zone)
