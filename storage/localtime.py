"""Local wall-clock times to UTC and back, with DST gaps and folds made explicit.

Rosters speak local time ("09:00 in Moscow"); the database and the planner speak UTC.
A time that does not exist (the spring-forward gap) is an error the user must fix;
an ambiguous one (the autumn fold) means the first occurrence.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class LocalTimeError(ValueError):
    """A local time or time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LocalTimeError(f"unknown time zone {name!r} (use names like Europe/Moscow)") from None


def local_to_utc(day: dt.date, clock: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall-clock time; refuses times skipped by a DST change."""
    local = dt.datetime.combine(day, clock).replace(tzinfo=tz, fold=0)
    utc = local.astimezone(dt.UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise LocalTimeError(
            f"{day.isoformat()} {clock.strftime('%H:%M')} does not exist in {tz.key} "
            "(the clocks are moved forward then)"
        )
    return utc


def day_bounds_utc(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where a local calendar day starts and ends (23–25 h on DST days)."""
    start = dt.datetime.combine(day, dt.time()).replace(tzinfo=tz).astimezone(dt.UTC)
    end = (
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        .replace(tzinfo=tz)
        .astimezone(dt.UTC)
    )
    return start, end


def parse_clock(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise LocalTimeError(f"not a time of day: {text!r} (use HH:MM)") from None


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise LocalTimeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
