"""The `proctorbot` command.

Each area contributes its sub-commands from its own ``commands.py`` module with a
``register(group)`` function, so a newcomer finds `proctorbot diarize` under
detection/audio_commands.py and `proctorbot plan` under scheduling/commands.py. The group
registers each of them here, by name, and hands every command its settings through
click's ``ctx.obj`` (proctorbot/command_settings.py).
"""

from __future__ import annotations

import logging
import os
import sys

import click

from proctorbot import __version__, commands_core
from proctorbot.bot import commands as bot_commands
from proctorbot.checklist import commands as checklist_commands
from proctorbot.command_settings import SETTINGS, settings_loader
from proctorbot.deploy import commands as deploy_commands
from proctorbot.detection import audio_commands, vision_commands
from proctorbot.log_redaction import SecretRedactor, quiet_request_logs
from proctorbot.log_redaction import install as install_redactor
from proctorbot.notifications import commands as notifications_commands
from proctorbot.recording import commands as recording_commands
from proctorbot.report import commands as report_commands
from proctorbot.scheduling import commands as scheduling_commands
from proctorbot.serve import serve_command
from proctorbot.workers import commands as workers_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="proctorbot")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML settings file (default: $PROCTORBOT_CONFIG or ./proctorbot.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Silent WebRTC proctoring bot for oral exams and interviews."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # No secret in any line: settings_from() tells the redactor the command's secrets.
    redactor = SecretRedactor()
    install_redactor(redactor)
    quiet_request_logs(verbose)
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj[SETTINGS] = settings_loader(config_path, redactor)


for area_commands in (
    commands_core,
    bot_commands,
    recording_commands,
    audio_commands,
    vision_commands,
    scheduling_commands,
    notifications_commands,
    checklist_commands,
    report_commands,
    workers_commands,
    deploy_commands,
):
    area_commands.register(cli)
cli.add_command(serve_command)


def main() -> None:
    from proctorbot.storage.db import DatabaseUnusable

    try:
        cli(prog_name="proctorbot")
    except DatabaseUnusable as exc:  # one line, not a traceback: it says what to do
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
