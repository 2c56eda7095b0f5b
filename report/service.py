"""Building a session's report from what the database and the folder hold.

The callable other areas use after a session ends (the bot, the scheduler)::

    written = rebuild_report(ctx, session_id, pdf=True)
    written.html, written.pdf, written.documents["termination_act"]
"""

from __future__ import annotations

from pathlib import Path

from proctorbot.config.profiles import load_profile
from proctorbot.report.build import build_report
from proctorbot.report.decisions import current_decisions
from proctorbot.report.output import WrittenReport, write_report
from proctorbot.report.results import load_session, session_info, session_profile

from proctorbot.context import AppContext


class ReportError(LookupError):
    """The session to report on does not exist."""


def rebuild_report(ctx: AppContext, session_id: str, *, pdf: bool = False) -> WrittenReport:
    """(Re)write ``<recordings>/<session_id>/report/`` with the latest decisions."""
    folder = ctx.settings.recordings_dir / session_id
    with ctx.db() as db:
        session = load_session(db, session_id)
        if session is None:
            raise ReportError(f"no session {session_id!r} in the database")
        info = session_info(db, session, ctx.settings.scheduling.timezone)
        decisions = current_decisions(db, session_id)
    profile = session_profile(session, ctx.settings.default_profile)
    folder.mkdir(parents=True, exist_ok=True)
    report = build_report(folder, profile, decisions=decisions, info=info)
    return write_report(report, pdf=pdf)


def report_for_folder(folder: Path, profile_name: str, *, pdf: bool = False) -> WrittenReport:
    """A report for a bare session folder (no database), e.g. from the CLI."""
    return write_report(build_report(folder, load_profile(profile_name)), pdf=pdf)


def report_link(
    ctx: AppContext, session_id: str, *, person_id: str = "", ttl_seconds: float | None = None
) -> str:
    """The signed link to a session's report page (what Telegram and e-mail messages carry).

    It opens the whole session folder read-only (the page's recordings and evidence) until
    ``server.download_link_ttl_minutes`` from now; every use is audited.
    """
    from proctorbot.report.links import download_link

    ttl = (
        ttl_seconds
        if ttl_seconds is not None
        else ctx.settings.server.download_link_ttl_minutes * 60
    )
    return download_link(
        ctx.signer, ctx.settings.server.public_url, session_id, person_id=person_id, ttl_seconds=ttl
    )
