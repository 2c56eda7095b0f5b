"""Engine, sessions and the declarative base shared by every area's tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    pass


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC, always returns timezone-aware UTC (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# How long a write waits for another connection's lock before SQLite gives up
# ("database is locked"). Database calls run in threads, so waiting never stalls the
# event loop; writes that must not be lost retry after it (storage/db_retry.py).
SQLITE_BUSY_TIMEOUT_S = 15.0
# Threads doing database work (asyncio.to_thread) each hold a connection while they
# wait for a lock: enough connections that waiting writers never starve the readers.
SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 32


def make_engine(url: str, *, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> Engine:
    """An engine for SQLite (WAL, busy timeout, foreign keys on) or PostgreSQL.

    WAL lets readers go on while another connection writes (or holds ``BEGIN
    EXCLUSIVE``): only writes wait, for at most ``busy_timeout_s``."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_OVERFLOW,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


class DatabaseUnusable(Exception):
    """The database cannot be opened or read; the message names it and what to do."""


def database_name(url: str) -> str:
    """The file of a SQLite URL, else the URL without its password."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def unusable_database(url: str, exc: BaseException) -> DatabaseUnusable:
    """One clear sentence for a database error met while opening the database."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    name = database_name(url)
    lowered = reason.lower()
    if "not a database" in lowered or "malformed" in lowered or "encrypted" in lowered:
        advice = (
            "the file is damaged or is not a proctorbot database; restore it from a backup, "
            "or move it aside and run `proctorbot migrate` to start an empty one"
        )
    elif "locked" in lowered or "busy" in lowered:
        advice = "another process holds it locked; wait for it to finish, then try again"
    elif "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        advice = "check that its folder exists and that this user may read and write it"
    else:
        advice = "check database_url in the settings and that the database server is up"
    return DatabaseUnusable(f"database {name} cannot be used ({reason}): {advice}")


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
