"""`proctorbot checklist SESSION_ID`: a session's checklist run as stored (or as JSON)."""

from __future__ import annotations

import json

import click
from proctorbot.checklist.records import ChecklistRun

from proctorbot.command_settings import settings_from


@click.command("checklist")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="The stored run as JSON.")
@click.pass_context
def checklist_command(ctx: click.Context, session_id: str, as_json: bool) -> None:
    """Show a session's pre-exam checklist: steps, results, decisions, evidence."""
    from proctorbot.checklist.store import ChecklistStore

    from proctorbot.context import AppContext

    app = AppContext.build(settings_from(ctx))
    try:
        run = ChecklistStore(app.db, app.settings.recordings_dir / session_id).load(session_id)
    finally:
        app.engine.dispose()
    if run is None:
        raise click.ClickException(f"session {session_id} has no checklist run")
    if as_json:
        click.echo(json.dumps(run.to_json(), ensure_ascii=False, indent=1))
        return
    click.echo(describe(run))


def describe(run: ChecklistRun) -> str:
    lines = [f"{run.session_id} {run.student_name}: {run.outcome} ({run.mode})"]
    if run.consent:
        answer = "given" if run.consent.given else "refused"
        lines.append(f"  consent {answer} at {run.consent.at}, text {run.consent.text_version}")
    for step in run.steps:
        auto = ""
        if step.auto:
            verdict = (
                "unavailable"
                if not step.auto.available
                else ("ok" if step.auto.passed else "failed")
            )
            auto = f" auto={verdict}:{step.auto.summary}"
        who = f" by {step.decided_by.role} {step.decided_by.name}" if step.decided_by else ""
        reason = f" — {step.reason}" if step.reason else ""
        lines.append(
            f"  {step.kind:<12} {step.status:<10} tries={step.attempts}{auto}{who}{reason}"
        )
        lines.extend(f"      {path}" for path in step.evidence)
    return "\n".join(lines)


def register(group: click.Group) -> None:
    group.add_command(checklist_command)
