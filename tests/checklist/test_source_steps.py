"""The checklist's steps for the student's other sources [002 §5.9]: the presets that
record the screen check the share (step ``screen_share``, after ``equipment``), a trial
call tries it too, and the step needs ``record_screen``."""

from __future__ import annotations

from pathlib import Path

import pytest
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import StepKind
from proctorbot.checklist.trial import trial_plan
from proctorbot.config.profiles import ProfileError, load_profile


def kinds(plan: ChecklistPlan) -> list[str]:
    return [str(step.kind) for step in plan.steps]


def test_the_presets_that_record_the_screen_check_the_share_after_the_equipment() -> None:
    for name in ("examus-like", "dpo-attestation"):  # record_screen = true, 002 §5.9
        plan = ChecklistPlan.from_profile(load_profile(name))
        names = kinds(plan)
        assert names[names.index("equipment") + 1] == "screen_share", name
        step = plan.steps[names.index("screen_share")]
        assert step.required and not step.requires_confirmation  # failing: like other checks
        assert step.time_limit_s >= 60 and plan.capture_seconds[StepKind.SCREEN_SHARE] > 0
    school = ChecklistPlan.from_profile(load_profile("school-interview"))
    assert "screen_share" not in kinds(school)  # no screen recorded, nothing to share


def test_a_trial_call_tries_the_screen_share_too() -> None:
    plan = trial_plan(ChecklistPlan.from_profile(load_profile("examus-like")))
    assert kinds(plan) == ["consent", "equipment", "screen_share", "phone_camera"]


def test_the_screen_step_needs_the_screen_recorded(tmp_path: Path) -> None:
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "school-interview.toml"
    text = source.read_text(encoding="utf-8")
    custom = tmp_path / "no-screen.toml"
    custom.write_text(
        text.replace(
            '{ kind = "equipment" }', '{ kind = "equipment" }, { kind = "screen_share" }', 1
        )
    )
    assert custom.read_text(encoding="utf-8") != text
    with pytest.raises(ProfileError, match="record_screen"):
        load_profile(custom)
