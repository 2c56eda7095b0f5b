"""The Telegram side people talk to: /start CODE, /today, /status, /report, /mute.

Built with python-telegram-bot 22's ``Application``; every handler reads the database
through the ``AppContext`` it was built with, in a thread (never on the event loop).
Replies go straight back; notifications go through the outbox. What other areas know
comes in as callables from the composition root (proctorbot/app.py): the report's link
(``report_link``) and the checklist's step in words (``checklist_step``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from proctorbot.config.catalogue import Catalogue
from proctorbot.notifications.invites import InviteError, redeem_invite
from proctorbot.notifications.tables import TelegramChat
from proctorbot.notifications.telegram_client import make_bot
from proctorbot.storage.db_retry import retry_when_locked
from proctorbot.storage.models import ExamSession, Person, Role, SessionMember, SessionStatus
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

ReportLink = Callable[[ExamSession, Person], str]
# (session id, language) -> the checklist's current step or outcome in words
ChecklistStep = Callable[[str, str], str]
LIVE = (SessionStatus.OPEN, SessionStatus.LIVE)
# A command that finds the database locked is retried this long, then fails (logged).
COMMAND_WRITE_WAIT_S = 60.0


def dashboard_page_link(ctx: AppContext) -> ReportLink:
    """The session's dashboard page (sign-in needed): the link when none is given."""

    def link(session: ExamSession, person: Person) -> str:
        return f"{ctx.settings.server.public_url.rstrip('/')}/dashboard/sessions/{session.id}"

    return link


def no_checklist_step(session_id: str, language: str) -> str:
    return "—"


class TelegramCommands:
    def __init__(
        self,
        ctx: AppContext,
        report_link: ReportLink | None = None,
        checklist_step: ChecklistStep | None = None,
    ) -> None:
        self.ctx = ctx
        self.report_link = report_link or dashboard_page_link(ctx)
        self.checklist_step = checklist_step or no_checklist_step

    def register(self, application: Application) -> None:
        application.add_handler(CommandHandler("start", self.start))
        application.add_handler(CommandHandler("today", self.today))
        application.add_handler(CommandHandler("status", self.status))
        application.add_handler(CommandHandler("report", self.report))
        application.add_handler(CommandHandler("mute", self.mute))

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id
        language = _language_hint(update)
        if not context.args:
            await update.effective_message.reply_text(_t(language, "bot.start_without_code"))
            return
        try:
            name, role, language = await asyncio.to_thread(
                retry_when_locked,
                self._link_chat,
                context.args[0],
                chat_id,
                what=f"linking chat {chat_id}",
                give_up_after=COMMAND_WRITE_WAIT_S,
            )
        except InviteError:
            await update.effective_message.reply_text(_t(language, "bot.bad_code"))
            return
        log.info("chat %s linked to a %s", chat_id, role)
        await update.effective_message.reply_text(_t(language, "bot.welcome", name=name, role=role))

    def _link_chat(self, code: str, chat_id: int) -> tuple[str, str, str]:
        with self.ctx.db.begin() as db:
            person = redeem_invite(db, code, chat_id)
            return person.full_name, person.role, person.language

    async def today(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self._today_text)

    def _today_text(self, db: Session, person: Person, chat_id: int, args: list[str]) -> str:
        from proctorbot.storage.localtime import day_bounds_utc, zone

        tz = zone(self.ctx.settings.scheduling.timezone)
        day = dt.datetime.now(tz).date()
        start, end = day_bounds_utc(day, tz)
        sessions = [
            s
            for s in self._visible_sessions(db, person)
            if start <= s.starts_at < end and s.status != SessionStatus.CANCELLED
        ]
        lines = [_t(person.language, "bot.today_header", date=day.strftime("%d.%m.%Y"))]
        lines += [
            _t(
                person.language,
                "bot.today_line",
                time=s.starts_at.astimezone(tz).strftime("%H:%M"),
                title=s.title,
                status=_status_words(person.language, s.status),
            )
            for s in sessions
        ]
        return "\n".join(lines) if sessions else _t(person.language, "bot.today_none")

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self._status_text)

    def _status_text(self, db: Session, person: Person, chat_id: int, args: list[str]) -> str:
        live = [s for s in self._visible_sessions(db, person) if s.status in LIVE]
        lines = [
            _t(
                person.language,
                "bot.status_line",
                title=s.title,
                status=_status_words(person.language, s.status),
                step=self.checklist_step(s.id, person.language),
            )
            for s in live
        ]
        return "\n".join(lines) or _t(person.language, "bot.status_none")

    async def report(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self._report_text, list(context.args or []))

    def _report_text(self, db: Session, person: Person, chat_id: int, args: list[str]) -> str:
        if not args:
            return _t(person.language, "bot.report_usage")
        wanted = args[0].strip()
        session = next((s for s in self._visible_sessions(db, person) if s.id == wanted), None)
        if session is None or person.role not in (Role.ORGANIZER, Role.EXAMINER, Role.EXPERT):
            return _t(person.language, "bot.report_unknown", session=wanted)
        return _t(
            person.language,
            "bot.report_link",
            title=session.title,
            url=self.report_link(session, person),
        )

    async def mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self._toggle_mute, write=True)

    def _toggle_mute(self, db: Session, person: Person, chat_id: int, args: list[str]) -> str:
        chat = db.get(TelegramChat, chat_id)
        if chat is None:
            chat = TelegramChat(chat_id=chat_id, person_id=person.id)
            db.add(chat)
        chat.muted = not chat.muted
        return _t(person.language, "bot.muted" if chat.muted else "bot.unmuted")

    async def _answer(
        self,
        update: Update,
        make_text: Callable[[Session, Person, int, list[str]], str],
        args: list[str] | None = None,
        *,
        write: bool = False,
    ) -> None:
        """The reply of a linked person's command, worked out in a thread (the database
        never blocks the loop); a chat linked to nobody is told so."""
        chat_id = update.effective_chat.id

        def work() -> str | None:
            with self.ctx.db.begin() if write else self.ctx.db() as db:
                person = self._person(db, chat_id)
                if person is None:
                    return None
                return make_text(db, person, chat_id, args or [])

        text = await asyncio.to_thread(
            retry_when_locked,
            work,
            what=f"a command of chat {chat_id}",
            give_up_after=COMMAND_WRITE_WAIT_S,
        )
        if text is None:
            text = _t(_language_hint(update), "bot.not_linked")
        await update.effective_message.reply_text(text)

    def _person(self, db: Session, chat_id: int) -> Person | None:
        chat = db.get(TelegramChat, chat_id)
        person = db.get(Person, chat.person_id) if chat and chat.person_id else None
        if person is None:
            person = db.scalar(select(Person).where(Person.telegram_chat_id == chat_id))
        return person

    def _visible_sessions(self, db: Session, person: Person) -> list[ExamSession]:
        query = select(ExamSession).order_by(ExamSession.starts_at)
        if person.role == Role.ORGANIZER:
            query = query.where(ExamSession.organization_id == person.organization_id)
        else:
            query = query.join(SessionMember).where(SessionMember.person_id == person.id)
        return list(db.scalars(query))


def build_application(ctx: AppContext, commands: TelegramCommands | None = None) -> Application:
    """The PTB application on the one client (``telegram_client.make_bot``); the caller
    runs initialize/start and the updater's polling."""
    application = ApplicationBuilder().bot(make_bot(ctx.settings.telegram)).build()
    (commands or TelegramCommands(ctx)).register(application)
    return application


def _status_words(language: str, status: str) -> str:
    """A session's status as people read it ("exam running", not "live")."""
    texts = Catalogue.load(language if language in ("ru", "en") else "ru").texts
    return texts.get(f"report.session_status.{status}", "—")


def _t(language: str, key: str, **values: object) -> str:
    return Catalogue.load(language if language in ("ru", "en") else "ru").text(
        f"notifications.{key}", **values
    )


def _language_hint(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "en" if code.startswith("en") else "ru"
