"""Schema migrations with Alembic, run from code (no alembic.ini needed)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from proctorbot.storage.db import Base, unusable_database
from sqlalchemy.exc import DBAPIError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Modules that declare tables on Base; imported so metadata is complete.
TABLE_MODULES = (
    "proctorbot.storage.models",
    "proctorbot.bot.tables",
    "proctorbot.conference.tables",
    "proctorbot.conference.janus.tables",
    "proctorbot.recording.tables",
    "proctorbot.detection.tables",
    "proctorbot.scheduling.tables",
    "proctorbot.report.tables",
    "proctorbot.notifications.tables",
    "proctorbot.checklist.tables",
    "proctorbot.workers.tables",
)


def load_all_tables() -> type[Base]:
    for name in TABLE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return Base


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema of every area (all branch heads).

    A database that cannot be opened or read (a damaged file, no permission, locked)
    raises ``DatabaseUnusable`` with one sentence naming it and what to do."""
    try:
        command.upgrade(alembic_config(database_url), "heads")
    except DBAPIError as exc:
        raise unusable_database(database_url, exc) from exc
