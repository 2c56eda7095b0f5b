"""How many sign-in tries an account and an address get: counted in the database, atomically.

Each try is counted *before* its password is checked, by one statement that adds it and
returns the new count (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), so parallel
guesses, threads or server processes cannot all read "0 failures" and all be checked:
the sixth try of a window is refused unchecked however the tries arrive. A successful
sign-in gives its try back (``refund``): the real user never locks themselves out by
signing in often.

Two limits per window, both must pass: ``ACCOUNT_LIMIT`` tries for one e-mail (guessing one
password) and ``ADDRESS_LIMIT`` for one client address (trying one password on many
accounts). An account under attack stays locked while the guessing goes on; its owner
gets in with a one-time link (report/sign_in_links.py), which has limits of its own.
The address is the TCP peer: behind a reverse proxy every client has the proxy's
address, and the address limit then counts everyone together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from proctorbot.report.tables import SignInCounter
from proctorbot.storage.db import utcnow
from sqlalchemy import case, update
from sqlalchemy.orm import Session

WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Limit:
    """``most`` tries per ``WINDOW_SECONDS`` for each key of ``scope``."""

    scope: str
    most: int


ACCOUNT_LIMIT = Limit("account", 5)
ADDRESS_LIMIT = Limit("address", 20)
# Asking for a one-time link: a few per account (no mail bombing), more per address.
LINK_ACCOUNT_LIMIT = Limit("link_account", 3)
LINK_ADDRESS_LIMIT = Limit("link_address", 20)


def count_try(db: Session, limit: Limit, key: str, *, now: dt.datetime | None = None) -> int:
    """Add one try for ``key`` and return the count of its window, this try included.

    One statement: a window older than ``WINDOW_SECONDS`` starts again at 1."""
    current = now or utcnow()
    cutoff = current - dt.timedelta(seconds=WINDOW_SECONDS)
    table = SignInCounter.__table__
    expired = table.c.window_start <= cutoff
    insert = _dialect_insert(db)(table).values(
        scope=limit.scope, key=key[:320], window_start=current, count=1
    )
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.key],
        set_={
            "count": case((expired, 1), else_=table.c.count + 1),
            "window_start": case((expired, current), else_=table.c.window_start),
        },
    ).returning(table.c.count)
    return int(db.execute(statement).scalar_one())


def first_passed(
    db: Session, limits: dict[Limit, str], *, now: dt.datetime | None = None
) -> Limit | None:
    """Count one try against each (limit, key); the first limit it goes over, or None
    when the try may go ahead. Every limit is counted, also after one is over."""
    over = [
        limit for limit, key in limits.items() if count_try(db, limit, key, now=now) > limit.most
    ]
    return over[0] if over else None


def refund(db: Session, limits: dict[Limit, str]) -> None:
    """Give back the try a successful sign-in was counted for."""
    table = SignInCounter.__table__
    for limit, key in limits.items():
        db.execute(
            update(table)
            .where(table.c.scope == limit.scope, table.c.key == key[:320], table.c.count > 0)
            .values(count=table.c.count - 1)
        )


def _dialect_insert(db: Session):
    name = db.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
