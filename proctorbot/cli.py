"""The `proctorbot` command.

Each area contributes its sub-commands from its own ``commands.py`` module with a
``register(group)`` function, so a newcomer finds `proctorbot diarize` under
detection/commands.py and `proctorbot plan` under scheduling/commands.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys

import click

from proctorbot import __version__
from proctorbot.log_redaction import SecretRedactor, quiet_request_logs
from proctorbot.log_redaction import install as install_redactor

# Areas that add commands; a missing module is skipped, a broken one fails loudly.
COMMAND_MODULES = (
    "proctorbot.commands_core",
    "proctorbot.conference.commands",
    "proctorbot.bot.commands",
    "proctorbot.recording.commands",
    "proctorbot.detection.audio_commands",
    "proctorbot.detection.vision_commands",
    "proctorbot.scheduling.commands",
    "proctorbot.notifications.commands",
    "proctorbot.checklist.commands",
    "proctorbot.report.commands",
)


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
    ctx.obj["redactor"] = redactor


def _register_area_commands() -> None:
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        module.register(cli)


_register_area_commands()


def main() -> None:
    from proctorbot.storage.db import DatabaseUnusable

    try:
        cli(prog_name="proctorbot")
    except DatabaseUnusable as exc:  # one line, not a traceback: it says what to do
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
