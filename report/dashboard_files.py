"""Files of a session folder over HTTP: for signed-in users and for signed download links.

``serve`` never leaves the session folder, audits the first request for each file
(a media player's further byte ranges are not logged again) and forbids caching.

A download link is checked against the database on every use, not only its signature:
its session must still exist and not be cancelled, and the person it was made for must
still be in the session (or an organizer of its organization). A path that names no
file (outside the folder, a null byte, a file retention deleted) is a 404.
"""

from __future__ import annotations

from aiohttp import web
from proctorbot.conference.tokens import TokenError
from proctorbot.report.dashboard_pages import Pages
from proctorbot.report.links import check_download, clean_path
from proctorbot.storage.models import ExamSession, Person, SessionMember, SessionStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from proctorbot.context import AppContext


class SessionFiles:
    def __init__(self, ctx: AppContext, pages: Pages) -> None:
        self.ctx = ctx
        self.pages = pages

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/d/{token}/{path:.+}", self.download)]

    async def download(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        try:
            claims, path = check_download(self.ctx.signer, token, request.match_info["path"])
        except TokenError as exc:
            self.pages.audit(
                request,
                "download",
                "refused",
                target=request.match_info["path"],
                detail=exc.reason,
            )
            if exc.reason == "bad_path":
                return self.pages.refuse(None, 404, "not_found")
            key = "link_expired" if exc.reason == "expired" else "link_invalid"
            return self.pages.refuse(None, 403, key)
        with self.ctx.db() as db:
            session = db.get(ExamSession, claims.session_id)
            organization_id = session.organization_id if session else None
            refusal = link_holder_refusal(db, session, claims.person_id)
        if refusal is not None:
            status, detail = refusal
            self.pages.audit(
                request,
                "download",
                "refused",
                organization_id=organization_id,
                person_id=claims.person_id or None,
                session_id=claims.session_id,
                target=path,
                detail=detail,
            )
            return self.pages.refuse(None, status, "not_found" if status == 404 else "link_invalid")
        return self.serve(
            request, claims.session_id, path, organization_id, claims.person_id or None
        )

    def serve(
        self,
        request: web.Request,
        session_id: str,
        path: str,
        organization_id: str | None,
        person_id: str | None,
    ) -> web.StreamResponse:
        root = (self.ctx.settings.recordings_dir / session_id).resolve()
        try:
            relative = clean_path(path)
            target = (root / relative).resolve()
            target.relative_to(root)
        except ValueError:
            target = None
        action = "download" if request.path.startswith("/d/") else "view_file"
        if target is None or not target.is_file():
            self.pages.audit(
                request,
                action,
                "refused",
                organization_id=organization_id,
                person_id=person_id,
                session_id=session_id,
                target=path,
                detail="no such file",
            )
            return self.pages.refuse(None, 404, "not_found")
        # A player asks for many byte ranges; the first one stands for the whole file.
        range_header = request.headers.get("Range", "")
        if not range_header or range_header.startswith("bytes=0-"):
            self.pages.audit(
                request,
                action,
                "allowed",
                organization_id=organization_id,
                person_id=person_id,
                session_id=session_id,
                target=relative,
            )
        response = web.FileResponse(target)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def link_holder_refusal(
    db: Session, session: ExamSession | None, person_id: str
) -> tuple[int, str] | None:
    """Why a well-signed download link must still be refused today, as (status, detail);
    None when it may open its files."""
    if session is None:
        return 404, "no such session"
    if session.status == SessionStatus.CANCELLED:
        return 410, "session cancelled"
    if not person_id:  # a link for the organization's mailbox, made for nobody in particular
        return None
    person = db.get(Person, person_id)
    if person is None:
        return 403, "person removed"
    member = db.scalar(
        select(SessionMember.role).where(
            SessionMember.session_id == session.id, SessionMember.person_id == person_id
        )
    )
    organizer = person.role == "organizer" and person.organization_id == session.organization_id
    if member is None and not organizer:
        return 403, "no longer in the session"
    return None
