"""The exam page stays in front [001 §4]: the student's call page reports, the bot records.

The page (conference/static/call.js, "page focus") cannot be watched from outside, so it
tells the bot itself, over the signaling socket as a ``panel`` message of area "focus"
(the server relays those to the bot and the examiners only):

    bot → student   {area: "focus", action: "watch", data: {fullscreen: true}}
    student → bot   {area: "focus", action: "change",
                     data: {kind: "page_hidden", state: "start"}}
    student → bot   {area: "focus", action: "change",
                     data: {kind: "page_hidden", state: "end", duration: 4.2}}

``kind`` is ``page_hidden`` (the tab hidden), ``window_blur`` (another window in front)
or ``fullscreen_left`` (out of full screen, only asked where the profile requires it).
Each start is a ``DetectorEvent`` with ``details.open`` at once (the live rules count it
while it lasts), each end the closing event with the same start, on the session clock
(seconds since ``bot.started_at``, stamped here when the message arrives; the page's own
measure is kept as ``details.page_duration``). An end without its start (sent while the
signaling was down) starts ``duration`` seconds before it arrived. A report still open
when the student's connection goes, or when the bot leaves, ends then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bus import PeerJoined, PeerLeft
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.recording.session_recorder import participant_key

from proctorbot.context import AppContext

log = logging.getLogger(__name__)

AREA = "focus"
PAGE_KINDS: dict[str, EventKind] = {
    "page_hidden": EventKind.PAGE_HIDDEN,
    "window_blur": EventKind.WINDOW_BLUR,
    "fullscreen_left": EventKind.FULLSCREEN_LEFT,
}
# A page's claim longer than this is not believed (a clock gone wrong): seconds.
MAX_PAGE_DURATION_S = 6 * 3600.0


@dataclass(frozen=True)
class OpenReport:
    kind: EventKind
    track: str
    start: float  # seconds since the bot's start
    peer_id: str


class PageFocusWatch:
    """One session: tells each student's page to watch, turns its reports into events."""

    def __init__(
        self,
        bot: Any,  # proctorbot.bot.session_bot.SessionBot
        *,
        require_fullscreen: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.require_fullscreen = require_fullscreen
        self.clock = clock
        self.open: dict[tuple[str, EventKind], OpenReport] = {}

    def now(self) -> float:
        return round(self.clock() - self.bot.started_at, 3)

    async def run(self) -> None:
        """Until cancelled (the bot leaves): then what is still open ends at ``stopped_at``."""
        self.bot.on_panel(AREA, self.on_panel)
        try:
            async with self.bot.bus.subscribe(PeerJoined, PeerLeft) as changes:
                for peer in list(self.bot.peers.values()):
                    await self.ask(peer)
                async for change in changes:
                    if isinstance(change, PeerJoined):
                        await self.ask(change.peer)
                    else:
                        self.close_peer(change.peer.peer_id, "left")
        finally:
            stopped = self.bot.stopped_at
            self.close_all(self.now() if stopped is None else stopped, "bot_left")

    async def ask(self, peer: PeerInfo) -> None:
        """The student's main device is told to watch (and whether full screen is required)."""
        if peer.role == "student" and peer.main_device:
            data = {"fullscreen": self.require_fullscreen}
            await self.bot.send_panel(AREA, "watch", data, to=peer.peer_id)

    async def on_panel(self, from_peer: str, action: str, data: Any) -> None:
        peer = self.bot.peers.get(from_peer)
        if action != "change" or not isinstance(data, dict) or peer is None:
            return
        if peer.role != "student" or not peer.main_device:
            return
        kind = PAGE_KINDS.get(str(data.get("kind")))
        if kind is None:
            return
        track = participant_key(peer.role, peer.person_id, peer.name, peer.peer_id, peer.device)
        if data.get("state") == "start":
            self.started(kind, track, from_peer, str(data.get("reason", "")))
        elif data.get("state") == "end":
            self.ended(kind, track, _seconds(data.get("duration")), "returned")

    def started(self, kind: EventKind, track: str, peer_id: str, reason: str = "") -> None:
        key = (track, kind)
        if key in self.open:
            return  # said twice (a reconnect): the first start stands
        report = OpenReport(kind, track, self.now(), peer_id)
        self.open[key] = report
        details: dict[str, Any] = {"open": True, "source": "call_page"}
        if reason:
            details["reason"] = reason
        self.bot.emit(DetectorEvent(kind, report.start, report.start, track=track, details=details))

    def ended(self, kind: EventKind, track: str, page_duration: float | None, reason: str) -> None:
        end = self.now()
        report = self.open.pop((track, kind), None)
        if report is None:
            if not page_duration:
                return
            start = round(max(0.0, end - page_duration), 3)  # its start never arrived
        else:
            start = report.start
        details: dict[str, Any] = {"source": "call_page", "reason": reason}
        if page_duration is not None:
            details["page_duration"] = page_duration
        self.bot.emit(DetectorEvent(kind, start, max(start, end), track=track, details=details))

    def close_peer(self, peer_id: str, reason: str) -> None:
        for (track, kind), report in list(self.open.items()):
            if report.peer_id == peer_id:
                self.ended(kind, track, None, reason)

    def close_all(self, at: float, reason: str) -> None:
        for (track, kind), report in list(self.open.items()):
            del self.open[(track, kind)]
            details = {"source": "call_page", "reason": reason}
            end = max(report.start, at)
            self.bot.emit(DetectorEvent(kind, report.start, end, track=track, details=details))


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return round(seconds, 3) if 0.0 <= seconds <= MAX_PAGE_DURATION_S else None


class PageFocusPlugin:
    """``await plugin(bot)`` in every session: the profile says whether full screen is
    required (``[focus] require_fullscreen``); the rules count the events."""

    __name__ = "page_focus"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def __call__(self, bot: Any) -> None:
        required = await asyncio.to_thread(self._fullscreen_required, bot.session_id)
        await PageFocusWatch(bot, require_fullscreen=required).run()

    def _fullscreen_required(self, session_id: str) -> bool:
        from proctorbot.config.profiles import ProfileError, load_profile
        from proctorbot.storage.models import ExamSession

        with self.ctx.db() as db:
            session = db.get(ExamSession, session_id)
            name = session.profile if session is not None else self.ctx.settings.default_profile
        try:
            return load_profile(name).focus.require_fullscreen
        except ProfileError:
            log.warning("session %s: profile %r unusable; full screen not asked", session_id, name)
            return False
