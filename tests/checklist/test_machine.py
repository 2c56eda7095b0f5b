"""The checklist state machine: order, retries, timeouts, conflicts, consent, rejection."""

from __future__ import annotations

import datetime as dt

import pytest
from proctorbot.checklist.machine import ChecklistConflict, ChecklistMachine, new_run
from proctorbot.checklist.plan import ChecklistPlan, PlanError
from proctorbot.checklist.records import (
    Actor,
    AutoResult,
    ChecklistRun,
    ExamMode,
    RunOutcome,
    StepKind,
    StepStatus,
)

STUDENT = Actor(role="student", name="Иванов Иван", peer_id="s1")
EXAMINER_A = Actor(role="examiner", name="Петрова", peer_id="e1")
EXAMINER_B = Actor(role="examiner", name="Сидоров", peer_id="e2")
EXPERT = Actor(role="expert", name="Эксперт", peer_id="x1")
PASS = AutoResult(available=True, passed=True, summary="ok", evidence=("evidence/a.jpg",))
FAIL = AutoResult(available=True, passed=False, summary="second_face")


class FakeClock:
    def __init__(self) -> None:
        self.value = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.value += dt.timedelta(seconds=1)
        return self.value


def make(plan: ChecklistPlan | None = None) -> ChecklistMachine:
    plan = plan or ChecklistPlan.default()
    clock = FakeClock()
    run = new_run(
        "s-1", plan=plan, profile="test", student_name="Иванов Иван", language="ru", now=clock
    )
    return ChecklistMachine(run, plan, now=clock)


def consent(machine: ChecklistMachine) -> None:
    machine.begin()
    machine.answer_consent(True, STUDENT, "v1")


def test_default_plan_follows_the_regulation_order() -> None:
    kinds = [step.kind for step in ChecklistPlan.default().steps]
    assert kinds == [
        StepKind.CONSENT,
        StepKind.EQUIPMENT,
        StepKind.ROOM_SCAN,
        StepKind.DESK,
        StepKind.ID_DOCUMENT,
        StepKind.NAME_ALOUD,
        StepKind.INSTRUCTION,
    ]


def test_plan_from_profile_reads_order_and_limits() -> None:
    profile = {
        "checklist": {
            "steps": ["consent", {"kind": "id-document", "time_limit_s": 30, "max_attempts": 3}],
            "non_biometric_allowed": False,
        }
    }
    plan = ChecklistPlan.from_profile(profile)
    assert [s.kind for s in plan.steps] == [StepKind.CONSENT, StepKind.ID_DOCUMENT]
    assert plan.steps[1].time_limit_s == 30 and plan.steps[1].max_attempts == 3
    assert plan.non_biometric_allowed is False
    with pytest.raises(PlanError, match="unknown checklist step"):
        ChecklistPlan.from_step_names(["consent", "selfie"])
    with pytest.raises(PlanError, match="twice"):
        ChecklistPlan.from_step_names(["consent", "consent"])


def test_full_walk_admits_and_records_every_transition() -> None:
    m = make()
    consent(m)
    for kind in (StepKind.EQUIPMENT, StepKind.ROOM_SCAN):
        m.begin()
        m.record_auto(kind, 1, PASS)
        assert m.run.step(kind).status is StepStatus.PASSED
    m.begin()
    m.record_auto(StepKind.DESK, 1, AutoResult.unavailable("no_detector"))
    assert m.run.step(StepKind.DESK).status is StepStatus.RUNNING  # waits for the examiner
    m.confirm(StepKind.DESK, EXAMINER_A)
    for kind in (StepKind.ID_DOCUMENT, StepKind.NAME_ALOUD):
        m.begin()
        m.record_auto(kind, 1, PASS)
    m.begin()
    m.acknowledge(StepKind.INSTRUCTION, STUDENT)
    assert m.run.outcome is RunOutcome.ADMITTED
    assert m.run.current is None
    assert m.run.step(StepKind.DESK).decided_by == EXAMINER_A
    assert [t.seq for t in m.run.transitions] == list(range(1, len(m.run.transitions) + 1))
    assert m.run.transitions[-1].action == "admitted"
    assert m.run.revision == len(m.run.transitions)
    assert "evidence/a.jpg" in m.run.step(StepKind.ROOM_SCAN).evidence


def test_clicks_out_of_order_change_nothing() -> None:
    m = make()
    consent(m)
    m.begin()
    before = m.run.to_json()
    with pytest.raises(ChecklistConflict) as caught:
        m.confirm(StepKind.ID_DOCUMENT, EXAMINER_A)
    assert caught.value.code == "out_of_order"
    with pytest.raises(ChecklistConflict) as caught:
        m.acknowledge(StepKind.INSTRUCTION, STUDENT)
    assert caught.value.code == "out_of_order"
    assert m.run.to_json() == before


def test_two_examiners_confirming_at_once_count_once() -> None:
    m = make()
    consent(m)
    m.begin()
    m.confirm(StepKind.EQUIPMENT, EXAMINER_A)
    with pytest.raises(ChecklistConflict) as caught:
        m.confirm(StepKind.EQUIPMENT, EXAMINER_B)
    assert caught.value.code == "already_decided"
    assert "Петрова" in str(caught.value)
    assert m.run.step(StepKind.EQUIPMENT).decided_by == EXAMINER_A
    assert sum(t.action == "confirmed" for t in m.run.transitions) == 1


def test_expert_and_student_cannot_decide() -> None:
    m = make()
    consent(m)
    m.begin()
    for actor in (EXPERT, STUDENT):
        with pytest.raises(ChecklistConflict) as caught:
            m.confirm(StepKind.EQUIPMENT, actor)
        assert caught.value.code == "not_allowed"


def test_examiner_cannot_consent_for_the_student() -> None:
    m = make()
    m.begin()
    with pytest.raises(ChecklistConflict) as caught:
        m.confirm(StepKind.CONSENT, EXAMINER_A)
    assert caught.value.code == "student_only"


def test_failed_check_retries_then_fails_and_waits_for_examiner() -> None:
    m = make()
    consent(m)
    m.begin()
    m.record_auto(StepKind.EQUIPMENT, 1, PASS)
    m.begin()
    m.record_auto(StepKind.ROOM_SCAN, 1, FAIL)
    step = m.run.step(StepKind.ROOM_SCAN)
    assert (step.status, step.attempts) == (StepStatus.RUNNING, 2)
    assert m.run.transitions[-1].action == "retry"
    assert m.run.transitions[-1].detail["failure"] == "second_face"
    m.record_auto(StepKind.ROOM_SCAN, 2, FAIL)
    assert step.status is StepStatus.FAILED and step.failure == "second_face"
    with pytest.raises(ChecklistConflict) as caught:
        m.confirm(StepKind.ROOM_SCAN, EXAMINER_A)
    assert caught.value.code == "reason_required"
    with pytest.raises(ChecklistConflict):
        m.override(StepKind.ROOM_SCAN, EXAMINER_A, "   ")
    m.override(StepKind.ROOM_SCAN, EXAMINER_A, "a poster with a face on the wall")
    assert step.status is StepStatus.OVERRIDDEN
    assert step.reason == "a poster with a face on the wall"
    assert m.run.current.kind is StepKind.DESK


def test_timeouts_and_stale_timers() -> None:
    m = make()
    consent(m)
    m.begin()
    m.timeout(StepKind.EQUIPMENT, 1)
    assert m.run.step(StepKind.EQUIPMENT).attempts == 2
    with pytest.raises(ChecklistConflict) as caught:
        m.timeout(StepKind.EQUIPMENT, 1)  # the first attempt's timer fires late
    assert caught.value.code == "stale"
    with pytest.raises(ChecklistConflict):
        m.record_auto(StepKind.EQUIPMENT, 1, PASS)  # a late result of attempt 1
    m.timeout(StepKind.EQUIPMENT, 2)
    assert m.run.step(StepKind.EQUIPMENT).status is StepStatus.FAILED
    assert m.run.step(StepKind.EQUIPMENT).failure == "timeout"
    m.retry(StepKind.EQUIPMENT, EXAMINER_A)
    assert m.run.step(StepKind.EQUIPMENT).attempts == 3
    m.record_auto(StepKind.EQUIPMENT, 3, PASS)
    assert m.run.step(StepKind.EQUIPMENT).status is StepStatus.PASSED


def test_consent_refused_without_alternative_ends_the_run() -> None:
    plan = ChecklistPlan.from_step_names(["consent", "equipment"], non_biometric_allowed=False)
    m = make(plan)
    m.begin()
    m.answer_consent(False, STUDENT, "v7")
    assert m.run.outcome is RunOutcome.CONSENT_REFUSED
    assert m.run.consent.given is False and m.run.consent.text_version == "v7"
    assert m.run.step(StepKind.EQUIPMENT).status is StepStatus.PENDING
    with pytest.raises(ChecklistConflict) as caught:
        m.begin()
    assert caught.value.code == "finished"


def test_consent_refused_with_alternative_goes_on_without_biometrics() -> None:
    m = make()
    m.begin()
    m.answer_consent(False, STUDENT, "v1")
    assert m.run.mode is ExamMode.NON_BIOMETRIC
    assert m.run.outcome is RunOutcome.IN_PROGRESS
    assert m.run.current.kind is StepKind.EQUIPMENT
    assert m.run.step(StepKind.CONSENT).status is StepStatus.FAILED
    with pytest.raises(ChecklistConflict) as caught:
        m.answer_consent(True, STUDENT, "v1")  # a second click on the old button
    assert caught.value.code == "already_decided"


def test_name_mismatch_rejected_means_not_admitted() -> None:
    m = make()
    consent(m)
    for kind in (StepKind.EQUIPMENT, StepKind.ROOM_SCAN):
        m.begin()
        m.record_auto(kind, 1, PASS)
    m.begin()
    m.confirm(StepKind.DESK, EXAMINER_A)
    m.begin()
    mismatch = AutoResult(available=True, passed=False, summary="name_mismatch")
    m.record_auto(StepKind.ID_DOCUMENT, 1, mismatch)
    m.record_auto(StepKind.ID_DOCUMENT, 2, mismatch)
    assert m.run.step(StepKind.ID_DOCUMENT).status is StepStatus.FAILED
    made = m.reject(StepKind.ID_DOCUMENT, EXAMINER_B, "the card says Петров Пётр")
    assert m.run.outcome is RunOutcome.NOT_ADMITTED
    assert made[-1].detail["identity"] is True
    with pytest.raises(ChecklistConflict) as caught:
        m.override(StepKind.ID_DOCUMENT, EXAMINER_A, "changed my mind")
    assert caught.value.code == "finished"


def test_interrupted_attempt_is_not_counted_and_resumes() -> None:
    m = make()
    consent(m)
    m.begin()
    m.record_auto(StepKind.EQUIPMENT, 1, PASS)
    m.begin()
    m.interrupt(STUDENT)
    step = m.run.step(StepKind.ROOM_SCAN)
    assert (step.status, step.attempts) == (StepStatus.PENDING, 0)
    restored = ChecklistRun.from_json(m.run.to_json())
    resumed = ChecklistMachine(restored, m.plan, now=FakeClock())
    assert resumed.run.current.kind is StepKind.ROOM_SCAN
    resumed.begin()
    assert resumed.run.step(StepKind.ROOM_SCAN).attempts == 1
    assert resumed.run.step(StepKind.EQUIPMENT).status is StepStatus.PASSED


def test_confirmation_required_waits_even_when_the_check_passes() -> None:
    plan = ChecklistPlan.from_step_names(["desk"])
    m = make(plan)
    m.begin()
    m.record_auto(StepKind.DESK, 1, PASS)
    assert m.run.step(StepKind.DESK).status is StepStatus.RUNNING
    m.confirm(StepKind.DESK, EXAMINER_A)
    assert m.run.outcome is RunOutcome.ADMITTED


def test_json_round_trip_is_lossless() -> None:
    m = make()
    consent(m)
    m.begin()
    m.record_auto(StepKind.EQUIPMENT, 1, FAIL)
    data = m.run.to_json()
    assert ChecklistRun.from_json(data).to_json() == data


def test_plan_from_each_shipped_profile() -> None:
    from proctorbot.config.profiles import load_profile

    for name in ("school-interview", "university-admission", "dpo-attestation", "examus-like"):
        plan = ChecklistPlan.from_profile(load_profile(name))
        assert plan.steps[-1].kind in (StepKind.INSTRUCTION, StepKind.DESK)
        id_step = next(s for s in plan.steps if s.kind is StepKind.ID_DOCUMENT)
        assert id_step.time_limit_s == 180 and id_step.required
    plan = ChecklistPlan.from_profile(load_profile("university-admission"))
    assert next(s for s in plan.steps if s.kind is StepKind.NAME_ALOUD).required is False


def test_optional_step_failure_is_recorded_and_does_not_block() -> None:
    plan = ChecklistPlan.from_profile(
        {
            "checklist": {
                "steps": [
                    {"kind": "name_aloud", "required": False, "max_attempts": 1},
                    "instruction",
                ]
            }
        }
    )
    m = make(plan)
    m.begin()
    m.record_auto(
        StepKind.NAME_ALOUD, 1, AutoResult(available=True, passed=False, summary="name_mismatch")
    )
    assert m.run.step(StepKind.NAME_ALOUD).status is StepStatus.FAILED
    assert m.run.current.kind is StepKind.INSTRUCTION
