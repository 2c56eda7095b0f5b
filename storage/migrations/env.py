from alembic import context
from sqlalchemy import pool

from proctorbot.storage.db import make_engine
from proctorbot.storage.migrate import load_all_tables

target_metadata = load_all_tables().metadata
url = context.config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    engine.pool = pool.NullPool(engine.pool._creator)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
