"""Persistence: database rows and checklist.json agree; the newest copy wins on load."""

from __future__ import annotations

import json

from proctorbot.checklist.machine import ChecklistMachine, new_run
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import Actor, RunOutcome, StepKind
from proctorbot.checklist.store import ChecklistStore
from proctorbot.checklist.tables import ChecklistRunRow, ChecklistTransitionRow
from sqlalchemy import select

STUDENT = Actor(role="student", name="Иванов Иван", peer_id="s1")


def test_every_save_reaches_db_and_file(app_context, exam_session_id, tmp_path) -> None:
    plan = ChecklistPlan.from_step_names(["consent", "instruction"])
    run = new_run(
        exam_session_id, plan=plan, profile="p", student_name="Иванов Иван", language="ru"
    )
    machine = ChecklistMachine(run, plan)
    store = ChecklistStore(app_context.db, tmp_path / "session")
    machine.begin()
    store.save(run)
    machine.answer_consent(True, STUDENT, "v3")
    store.save(run)

    on_disk = json.loads(store.file_path.read_text(encoding="utf-8"))
    assert on_disk["revision"] == run.revision
    assert on_disk["consent"]["text_version"] == "v3"
    with app_context.db() as db:
        row = db.get(ChecklistRunRow, exam_session_id)
        assert row.revision == run.revision and row.consent_given is True
        assert row.current_step == "instruction"
        actions = db.scalars(
            select(ChecklistTransitionRow.action).order_by(ChecklistTransitionRow.seq)
        ).all()
    assert actions == ["begin", "consent_given"]
    assert list(store.file_path.parent.glob("*.tmp")) == []

    loaded = store.load(exam_session_id)
    assert loaded.to_json() == run.to_json()


def test_failed_db_write_is_caught_up_and_file_wins(app_context, exam_session_id, tmp_path) -> None:
    plan = ChecklistPlan.from_step_names(["consent", "instruction"])
    run = new_run(exam_session_id, plan=plan, profile="p", student_name="И", language="ru")
    machine = ChecklistMachine(run, plan)
    store = ChecklistStore(app_context.db, tmp_path / "session")
    machine.begin()
    store.save(run)
    machine.answer_consent(True, STUDENT, "v1")
    # The database write of this transition "fails": only the file has it.
    from proctorbot.checklist.store import write_json_atomically

    write_json_atomically(store.file_path, run.to_json())
    assert store.load(exam_session_id).revision == run.revision  # the file is newer

    machine.begin()
    machine.acknowledge(StepKind.INSTRUCTION, STUDENT)
    store.save(run)
    assert run.outcome is RunOutcome.ADMITTED
    with app_context.db() as db:
        seqs = db.scalars(
            select(ChecklistTransitionRow.seq).order_by(ChecklistTransitionRow.seq)
        ).all()
    assert seqs == list(range(1, len(run.transitions) + 1))


def test_load_of_a_run_never_started(app_context, exam_session_id, tmp_path) -> None:
    assert ChecklistStore(app_context.db, tmp_path).load(exam_session_id) is None
