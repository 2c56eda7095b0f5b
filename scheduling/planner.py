"""The connection schedule ("график подключения"): one slot per student, all in UTC.

A slot is instruction + technical procedures + exam + buffer [seed 003 §3]. Examiners
work in parallel, each inside their own availability windows; fixed breaks (lunch)
and a rest after a run of consecutive slots are kept free. Every student who does not
fit becomes a ``Conflict`` with the reason: nobody is silently dropped.

All arithmetic is on UTC instants, so a slot lasts its real length on a DST day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SlotLengths:
    instruction: dt.timedelta
    technical: dt.timedelta
    exam: dt.timedelta
    buffer: dt.timedelta

    @classmethod
    def minutes(cls, instruction: int, technical: int, exam: int, buffer: int) -> SlotLengths:
        m = dt.timedelta(minutes=1)
        return cls(instruction * m, technical * m, exam * m, buffer * m)

    @property
    def total(self) -> dt.timedelta:
        return self.instruction + self.technical + self.exam + self.buffer

    @property
    def session(self) -> dt.timedelta:
        """What the session occupies; the buffer after it is left free."""
        return self.instruction + self.technical + self.exam


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("intervals need timezone-aware datetimes")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class StudentToPlan:
    person_id: str
    full_name: str
    exam: str = ""


@dataclass(frozen=True)
class ExaminerToPlan:
    person_id: str
    full_name: str
    windows: tuple[Interval, ...]
    # Exams this examiner takes; empty = any.
    exams: frozenset[str] = frozenset()
    # Further examiners of a panel (commission) who sit every slot with this one.
    panel: tuple[tuple[str, str], ...] = ()

    def takes(self, exam: str) -> bool:
        return not self.exams or not exam or exam in self.exams

    @property
    def people(self) -> tuple[tuple[str, str], ...]:
        """(person id, name) of everyone examining, this examiner first."""
        return ((self.person_id, self.full_name), *self.panel)


@dataclass(frozen=True)
class BreakRule:
    """Fixed breaks for everyone, plus a rest after ``every`` consecutive slots."""

    fixed: tuple[Interval, ...] = ()
    every: int = 0
    rest: dt.timedelta = dt.timedelta()


@dataclass(frozen=True)
class PlannedSlot:
    student: StudentToPlan
    examiner: ExaminerToPlan
    start: dt.datetime  # the student connects; instruction begins
    exam_start: dt.datetime
    end: dt.datetime  # the exam ends; the buffer follows
    buffer_end: dt.datetime


@dataclass(frozen=True)
class Conflict:
    student: StudentToPlan
    reason: str


@dataclass
class Plan:
    slots: list[PlannedSlot] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class _Cursor:
    examiner: ExaminerToPlan
    free_from: dt.datetime
    run: int = 0  # consecutive slots since the last rest


def intersect_windows(
    first: tuple[Interval, ...], second: tuple[Interval, ...]
) -> tuple[Interval, ...]:
    """When two examiners of a panel are both free."""
    common = []
    for a in merge_windows(list(first)):
        for b in merge_windows(list(second)):
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                common.append(Interval(start, end))
    return merge_windows(common)


def merge_windows(windows: list[Interval]) -> tuple[Interval, ...]:
    """Overlapping or touching windows of one examiner become one."""
    merged: list[Interval] = []
    for window in sorted(windows, key=lambda w: w.start):
        if merged and window.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, window.end))
        else:
            merged.append(window)
    return tuple(merged)


class SlotPlanner:
    """Puts each student into the earliest slot any suitable examiner has free."""

    def __init__(self, lengths: SlotLengths, breaks: BreakRule | None = None) -> None:
        if lengths.total <= dt.timedelta():
            raise ValueError("a slot must last longer than zero minutes")
        self.lengths = lengths
        self.breaks = breaks or BreakRule()

    def plan(self, students: list[StudentToPlan], examiners: list[ExaminerToPlan]) -> Plan:
        plan = Plan()
        seen: set[str] = set()
        cursors = [
            _Cursor(
                ExaminerToPlan(
                    e.person_id, e.full_name, merge_windows(list(e.windows)), e.exams, e.panel
                ),
                min((w.start for w in e.windows), default=dt.datetime.max.replace(tzinfo=dt.UTC)),
            )
            for e in examiners
        ]
        for student in students:
            if student.person_id in seen:
                plan.conflicts.append(Conflict(student, "listed twice; planned once"))
                continue
            seen.add(student.person_id)
            suitable = [c for c in cursors if c.examiner.takes(student.exam)]
            if not suitable:
                what = f"exam {student.exam!r}" if student.exam else "this day"
                plan.conflicts.append(Conflict(student, f"no examiner takes {what}"))
                continue
            options = [(self._next_start(c), index, c) for index, c in enumerate(suitable)]
            options = [o for o in options if o[0] is not None]
            if not options:
                plan.conflicts.append(
                    Conflict(student, "no examiner time left: more students than available hours")
                )
                continue
            start, _, cursor = min(options, key=lambda o: (o[0], o[1]))
            plan.slots.append(self._book(cursor, student, start))
        plan.slots.sort(key=lambda s: (s.start, s.examiner.full_name))
        return plan

    def _next_start(self, cursor: _Cursor) -> dt.datetime | None:
        start = cursor.free_from
        if self.breaks.every and cursor.run >= self.breaks.every:
            start = start + self.breaks.rest
        for window in cursor.examiner.windows:
            candidate = max(start, window.start)
            while candidate + self.lengths.total <= window.end:
                slot = Interval(candidate, candidate + self.lengths.total)
                clash = next((b for b in self.breaks.fixed if b.overlaps(slot)), None)
                if clash is None:
                    return candidate
                candidate = clash.end
        return None

    def _book(self, cursor: _Cursor, student: StudentToPlan, start: dt.datetime) -> PlannedSlot:
        lengths = self.lengths
        contiguous = start == cursor.free_from and cursor.run < (self.breaks.every or 10**9)
        cursor.run = cursor.run + 1 if contiguous else 1
        cursor.free_from = start + lengths.total
        return PlannedSlot(
            student=student,
            examiner=cursor.examiner,
            start=start,
            exam_start=start + lengths.instruction + lengths.technical,
            end=start + lengths.session,
            buffer_end=start + lengths.total,
        )
