"""Organizer sign-in out of the box for `proctorbot serve --demo`.

The demo organizer has no password; the command prints a one-time sign-in link for them
(report/sign_in_links.py: only the link's hash is stored, it expires and works once),
the dashboard's address, and the demo organization's exact name, which
`proctorbot organizer add --organization …` needs for more accounts.
"""

from __future__ import annotations

from proctorbot.report.sign_in_links import new_sign_in_link
from proctorbot.storage.models import Organization, Person, Role
from sqlalchemy import select

from proctorbot.context import AppContext

DEMO_LINK_TTL_MINUTES = 12 * 60  # a demo is tried within the day it is started


def demo_sign_in_lines(ctx: AppContext, organization_id: str) -> list[str]:
    """What `serve --demo` prints about the dashboard (a fresh link on every start)."""
    public = ctx.settings.server.public_url.rstrip("/")
    with ctx.db() as db:
        organization = db.get(Organization, organization_id)
        organizer = db.scalar(
            select(Person)
            .where(Person.organization_id == organization_id, Person.role == Role.ORGANIZER)
            .order_by(Person.external_id)
        )
        link = None
        if organizer is not None:
            link = new_sign_in_link(db, organizer, public, ttl_minutes=DEMO_LINK_TTL_MINUTES)
            db.commit()
        name = organization.name if organization is not None else ""
    lines = [f"Organizers' dashboard: {public}/dashboard"]
    if organizer is not None and link:
        hours = DEMO_LINK_TTL_MINUTES // 60
        lines += [
            f"  Sign in as the demo's {organizer.full_name}"
            f" (a one-time link, works once within {hours} h):",
            f"    {link}",
        ]
    lines += [
        f'  Demo organization: "{name}"',
        "  More accounts (a password, asked for): proctorbot organizer add"
        f' --organization "{name}" --name NAME --email EMAIL',
    ]
    return lines
