"""The Alembic migrations create exactly what the table classes declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from proctorbot.storage.migrate import load_all_tables


def test_migrations_match_models(app_context) -> None:
    metadata = load_all_tables().metadata
    with app_context.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == [], f"tables and migrations differ: {diff}"


def test_upgrade_is_idempotent(app_context) -> None:
    from proctorbot.storage.migrate import upgrade

    upgrade(app_context.settings.resolved_database_url)  # second run: nothing to do, no error
