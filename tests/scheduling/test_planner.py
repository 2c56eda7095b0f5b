import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from proctorbot.scheduling.planner import (
    BreakRule,
    ExaminerToPlan,
    Interval,
    SlotLengths,
    SlotPlanner,
    StudentToPlan,
)
from proctorbot.storage.localtime import LocalTimeError, local_to_utc

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 6, 15)


def window(day: dt.date, start: str, end: str, tz: ZoneInfo = MSK) -> Interval:
    return Interval(
        local_to_utc(day, dt.time.fromisoformat(start), tz),
        local_to_utc(day, dt.time.fromisoformat(end), tz),
    )


def students(n: int, exam: str = "") -> list[StudentToPlan]:
    return [StudentToPlan(f"s{i}", f"Student {i:02d}", exam) for i in range(n)]


def local_starts(plan, tz=MSK) -> list[str]:
    return [slot.start.astimezone(tz).strftime("%H:%M") for slot in plan.slots]


HOUR = SlotLengths.minutes(10, 15, 30, 5)  # 60 min


def test_one_examiner_fills_the_window_back_to_back() -> None:
    planner = SlotPlanner(HOUR)
    plan = planner.plan(
        students(3), [ExaminerToPlan("e1", "Ivanov", (window(DAY, "09:00", "12:00"),))]
    )
    assert local_starts(plan) == ["09:00", "10:00", "11:00"]
    first = plan.slots[0]
    assert first.exam_start - first.start == dt.timedelta(minutes=25)
    assert first.end - first.start == dt.timedelta(minutes=55)  # the buffer stays free
    assert plan.conflicts == []


def test_more_students_than_hours_are_reported_not_dropped() -> None:
    plan = SlotPlanner(HOUR).plan(
        students(5), [ExaminerToPlan("e1", "Ivanov", (window(DAY, "09:00", "11:30"),))]
    )
    assert len(plan.slots) == 2
    assert [c.student.person_id for c in plan.conflicts] == ["s2", "s3", "s4"]
    assert "more students than available hours" in plan.conflicts[0].reason


def test_examiners_in_parallel_and_overlapping_windows_merge() -> None:
    examiners = [
        ExaminerToPlan(
            "e1", "Ivanov", (window(DAY, "09:00", "10:30"), window(DAY, "10:00", "11:00"))
        ),
        ExaminerToPlan("e2", "Petrova", (window(DAY, "09:30", "11:00"),)),
    ]
    plan = SlotPlanner(HOUR).plan(students(4), examiners)
    # merged window 09:00-11:00 gives e1 two slots; e2 gets 09:30 only (10:30+60 > 11:00)
    got = sorted(
        (s.examiner.person_id, s.start.astimezone(MSK).strftime("%H:%M")) for s in plan.slots
    )
    assert got == [("e1", "09:00"), ("e1", "10:00"), ("e2", "09:30")]
    assert [c.student.person_id for c in plan.conflicts] == ["s3"]
    # no examiner is ever double-booked
    for a in plan.slots:
        for b in plan.slots:
            if a is not b and a.examiner.person_id == b.examiner.person_id:
                assert not Interval(a.start, a.buffer_end).overlaps(Interval(b.start, b.buffer_end))


def test_fixed_break_and_rest_after_a_run_of_slots() -> None:
    lunch = window(DAY, "11:00", "11:30")
    planner = SlotPlanner(HOUR, BreakRule(fixed=(lunch,), every=2, rest=dt.timedelta(minutes=15)))
    plan = planner.plan(
        students(4), [ExaminerToPlan("e1", "Ivanov", (window(DAY, "09:00", "15:00"),))]
    )
    # 09:00, 10:00, then rest 15 min -> 11:15 clashes with lunch -> 11:30, 12:30
    assert local_starts(plan) == ["09:00", "10:00", "11:30", "12:30"]


def test_exam_filter_and_unknown_exam_is_a_conflict() -> None:
    examiners = [
        ExaminerToPlan("e1", "Math", (window(DAY, "09:00", "12:00"),), frozenset({"math"})),
        ExaminerToPlan("e2", "Physics", (window(DAY, "09:00", "12:00"),), frozenset({"physics"})),
    ]
    plan = SlotPlanner(HOUR).plan(
        students(2, "math") + [StudentToPlan("x", "Chemist", "chemistry")], examiners
    )
    assert {s.examiner.person_id for s in plan.slots} == {"e1"}
    assert plan.conflicts[0].student.person_id == "x"
    assert "chemistry" in plan.conflicts[0].reason


def test_examiners_in_different_time_zones_share_one_utc_timeline() -> None:
    yekaterinburg = ZoneInfo("Asia/Yekaterinburg")  # UTC+5, Moscow is UTC+3
    examiners = [
        ExaminerToPlan("e1", "Moscow", (window(DAY, "09:00", "10:00"),)),
        ExaminerToPlan("e2", "Urals", (window(DAY, "09:00", "10:00", yekaterinburg),)),
    ]
    plan = SlotPlanner(HOUR).plan(students(2), examiners)
    # 09:00 in Yekaterinburg is 07:00 in Moscow: the Urals examiner comes first
    assert [
        (s.examiner.person_id, s.start.astimezone(MSK).strftime("%H:%M")) for s in plan.slots
    ] == [
        ("e2", "07:00"),
        ("e1", "09:00"),
    ]


def test_spring_forward_day_has_one_hour_less() -> None:
    dst_day = dt.date(2026, 3, 29)  # Europe/Berlin 02:00 -> 03:00
    examiner = ExaminerToPlan("e1", "Night", (window(dst_day, "00:00", "06:00", BERLIN),))
    plan = SlotPlanner(HOUR).plan(students(6), [examiner])
    assert local_starts(plan, BERLIN) == ["00:00", "01:00", "03:00", "04:00", "05:00"]
    assert len(plan.conflicts) == 1
    for slot in plan.slots:
        assert slot.buffer_end - slot.start == dt.timedelta(hours=1)


def test_fall_back_day_has_one_hour_more() -> None:
    dst_day = dt.date(2026, 10, 25)  # Europe/Berlin 03:00 -> 02:00
    examiner = ExaminerToPlan("e1", "Night", (window(dst_day, "00:00", "06:00", BERLIN),))
    plan = SlotPlanner(HOUR).plan(students(8), [examiner])
    assert len(plan.slots) == 7
    assert local_starts(plan, BERLIN) == [
        "00:00",
        "01:00",
        "02:00",
        "02:00",
        "03:00",
        "04:00",
        "05:00",
    ]


def test_a_time_skipped_by_dst_is_a_clear_error() -> None:
    with pytest.raises(LocalTimeError, match="does not exist"):
        local_to_utc(dt.date(2026, 3, 29), dt.time(2, 30), BERLIN)


def test_a_student_listed_twice_is_planned_once() -> None:
    twice = students(1) + students(1)
    plan = SlotPlanner(HOUR).plan(
        twice, [ExaminerToPlan("e1", "I", (window(DAY, "09:00", "12:00"),))]
    )
    assert len(plan.slots) == 1
    assert plan.conflicts[0].reason.startswith("listed twice")


def test_a_panel_examines_together_only_when_all_are_free() -> None:
    from proctorbot.scheduling.planner import intersect_windows

    common = intersect_windows((window(DAY, "09:00", "12:00"),), (window(DAY, "10:00", "13:00"),))
    panel = ExaminerToPlan("e1", "Chair", common, panel=(("e2", "Member"),))
    plan = SlotPlanner(HOUR).plan(students(3), [panel])
    assert local_starts(plan) == ["10:00", "11:00"]
    assert [p for p, _ in plan.slots[0].examiner.people] == ["e1", "e2"]
    assert len(plan.conflicts) == 1
