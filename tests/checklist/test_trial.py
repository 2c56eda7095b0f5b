"""A trial call's checklist: consent and the equipment steps, its outcome, its end."""

from __future__ import annotations

import asyncio

from proctorbot.bot.session_end import EndRules, EndWatch
from proctorbot.checklist.machine import new_run
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import Actor, ConsentRecord, RunOutcome, StepStatus
from proctorbot.checklist.trial import (
    TrialStatus,
    end_after_sample,
    trial_outcome,
    trial_plan,
)


def full_plan() -> ChecklistPlan:
    return ChecklistPlan.from_step_names(
        ["consent", "equipment", "room_scan", "desk", "id_document", "name_aloud", "instruction"]
    )


def test_trial_plan_keeps_consent_and_equipment_without_an_examiner() -> None:
    plan = trial_plan(full_plan())
    assert [str(s.kind) for s in plan.steps] == ["consent", "equipment"]
    assert not any(s.requires_confirmation for s in plan.steps)
    only_consent = trial_plan(ChecklistPlan.from_step_names(["consent", "instruction"]))
    assert [str(s.kind) for s in only_consent.steps] == ["consent", "equipment"]


def run_of(plan: ChecklistPlan):
    return new_run("s1", plan=plan, profile="p", student_name="Анна", language="ru")


def test_trial_outcomes() -> None:
    plan = trial_plan(full_plan())
    assert trial_outcome(None).status is TrialStatus.NO_SHOW
    run = run_of(plan)
    assert trial_outcome(run).status is TrialStatus.NO_SHOW  # never answered the consent
    run.consent = ConsentRecord(True, "t", "v", "ru", Actor("student"))
    left = trial_outcome(run)
    assert (left.status, left.step, left.reason) == (TrialStatus.FAILED, "consent", "unfinished")
    run.steps[1].status, run.steps[1].failure = StepStatus.FAILED, "no_audio"
    failed = trial_outcome(run)
    assert (failed.status, failed.step, failed.reason) == (
        TrialStatus.FAILED,
        "equipment",
        "no_audio",
    )
    run.steps[1].status, run.outcome = StepStatus.PASSED, RunOutcome.ADMITTED
    assert trial_outcome(run).status is TrialStatus.PASSED
    run.outcome = RunOutcome.CONSENT_REFUSED
    assert trial_outcome(run).reason == "consent_refused"


async def test_the_trial_ends_a_sample_after_its_checks() -> None:
    run = run_of(trial_plan(full_plan()))
    run.consent = ConsentRecord(True, "t", "v", "ru", Actor("student"))
    told, ended = [], []

    async def tell(outcome) -> None:
        told.append(outcome.status)

    task = asyncio.create_task(
        end_after_sample(lambda: run, sample_seconds=0.2, tell_student=tell, end=ended.append)
    )
    await asyncio.sleep(0.7)
    assert not told and not ended  # still going on
    run.steps[1].status, run.steps[1].failure = StepStatus.FAILED, "no_video"  # for good
    await asyncio.wait_for(task, 3)
    assert told == [TrialStatus.FAILED] and ended == ["trial_over"]


async def test_a_requested_end_makes_the_bot_leave() -> None:
    class Bot:
        presence_changed = asyncio.Event()
        end_requested: str | None = None

        def people_present(self) -> bool:
            return True

    bot = Bot()
    watch = EndWatch(bot, EndRules(empty_for_s=60, slot_end=None, max_overrun_s=60))
    waiting = asyncio.create_task(watch.wait())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    bot.end_requested = "trial_over"
    bot.presence_changed.set()
    assert await asyncio.wait_for(waiting, 2) == "trial_over"
