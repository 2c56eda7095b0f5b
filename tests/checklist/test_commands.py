from click.testing import CliRunner
from proctorbot.checklist.machine import ChecklistMachine, new_run
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import Actor
from proctorbot.checklist.store import ChecklistStore

from proctorbot.cli import cli


def test_checklist_command_shows_the_stored_run(app_context, exam_session_id, monkeypatch) -> None:
    plan = ChecklistPlan.from_step_names(["consent", "desk"])
    run = new_run(
        exam_session_id, plan=plan, profile="p", student_name="Иванов Иван", language="ru"
    )
    machine = ChecklistMachine(run, plan)
    machine.begin()
    machine.answer_consent(True, Actor(role="student", name="Иванов Иван"), "v9")
    machine.begin()
    machine.override(plan.steps[1].kind, Actor(role="examiner", name="Петрова"), "checked by hand")
    session_dir = app_context.settings.recordings_dir / exam_session_id
    ChecklistStore(app_context.db, session_dir).save(run)
    monkeypatch.setenv("PROCTORBOT_DATA_DIR", str(app_context.settings.data_dir))
    result = CliRunner().invoke(cli, ["checklist", exam_session_id])
    assert result.exit_code == 0, result.output
    assert "admitted" in result.output and "text v9" in result.output
    assert "overridden" in result.output and "checked by hand" in result.output
    missing = CliRunner().invoke(cli, ["checklist", "nope"])
    assert missing.exit_code != 0 and "no checklist run" in missing.output
