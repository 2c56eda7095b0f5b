"""Core commands: database migrations and the settings check."""

from __future__ import annotations

import click

from proctorbot.command_settings import settings_from


@click.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Create or upgrade the database schema."""
    from proctorbot.storage.migrate import upgrade

    settings = settings_from(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    click.echo(f"database ready: {settings.resolved_database_url}")


@click.command("check-config")
@click.pass_context
def check_config_command(ctx: click.Context) -> None:
    """Validate the settings and print them (secrets hidden)."""
    settings = settings_from(ctx)
    click.echo(settings.model_dump_json(indent=2))


def register(group: click.Group) -> None:
    group.add_command(migrate_command)
    group.add_command(check_config_command)
