"""Settings for the `proctorbot` sub-commands, handed through click's ``ctx.obj``.

The `proctorbot` group (proctorbot/cli.py, the composition root) puts a loader in
``ctx.obj["settings"]``: it reads the ``--config`` file, turns a bad one into a clear CLI
error and tells the log redactor the secrets. An area's command asks
``settings_from(ctx)``; no area imports the root.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from proctorbot.config.settings import Settings, SettingsError, load_settings
from proctorbot.log_redaction import SecretRedactor

SETTINGS = "settings"  # the key in ctx.obj

SettingsLoader = Callable[[], Settings]


def settings_loader(
    config_path: str | None = None, redactor: SecretRedactor | None = None
) -> SettingsLoader:
    """Loads the settings afresh on each call (a command may change its copy)."""

    def load() -> Settings:
        try:
            settings = load_settings(config_path)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        if redactor is not None:  # proctorbot/log_redaction.py: these never reach the log
            redactor.protect_settings(settings)
        return settings

    return load


def settings_from(ctx: click.Context) -> Settings:
    """The settings of this command, from the loader the `proctorbot` group put in
    ``ctx.obj`` (the default file when the command runs without the group)."""
    load = (ctx.obj or {}).get(SETTINGS) or settings_loader()
    return load()
