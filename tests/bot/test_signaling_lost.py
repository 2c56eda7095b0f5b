"""The signaling server goes away and comes back (a restart on the same port) while the
bot records: links are kept, then reconciled with the new server's ``welcome``."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from proctorbot.bot.manager import bot_signaling_url
from proctorbot.bot.session_bot import SessionBot
from proctorbot.conference.keys import ROOMS
from proctorbot.conference.links import session_links
from proctorbot.storage.demo import seed_demo

from proctorbot.app import Areas, build_app
from tests.bot.participant import ScriptedParticipant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class RestartableServer:
    """The conference alone on one fixed port, stopped and started again like a restart."""

    def __init__(self, ctx) -> None:  # noqa: ANN001
        self.ctx = ctx
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        ctx.settings.server.public_url = self.url
        ctx.settings.conference.allow_loopback = True
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    async def start(self) -> None:
        self.app = await build_app(self.ctx, areas=Areas())
        self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def roles_in_room(self, session_id: str) -> list[str]:
        room = self.app[ROOMS].get(session_id) if self.app else None
        return sorted(p.role for p in room.peers.values()) if room else []

    async def wait_roles(self, session_id: str, roles: list[str], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while self.roles_in_room(session_id) != sorted(roles):
                await asyncio.sleep(0.1)


async def test_a_restart_keeps_who_comes_back_and_closes_who_does_not(app_context) -> None:
    ctx = app_context
    ctx.settings.recording.segment_seconds = 3.0
    ctx.settings.recording.make_composite = False
    ctx.settings.bot.reconnect_delay_seconds = 0.3
    ctx.settings.bot.rejoin_grace_seconds = 3.0
    session_id = seed_demo(ctx.db, profile=ctx.settings.default_profile).session_ids[0]
    server = RestartableServer(ctx)
    await server.start()
    urls = {
        link.role: f"ws://127.0.0.1:{server.port}/ws?t={link.token}"
        for link in session_links(ctx, session_id)
    }
    bot = SessionBot(session_id, bot_signaling_url(ctx, session_id, server.url), ctx.settings)
    run = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.joined.wait(), 10)
    student = ScriptedParticipant(urls["student"])
    examiner = ScriptedParticipant(urls["examiner"])
    for person in (student, examiner):
        await person.join()
        await asyncio.wait_for(person.connected.wait(), 15)
    await asyncio.sleep(2.0)

    await server.stop()  # the signaling is gone; the peer-to-peer media is not
    await asyncio.sleep(1.0)
    assert len(bot._links) == 2, "both links kept while the signaling is down"
    await student.leave()  # the student's page drops its connection, as call.js does
    await server.start()
    await server.wait_roles(session_id, ["bot"])
    back = ScriptedParticipant(urls["student"])  # its page reconnects and offers again
    await back.join()
    await asyncio.wait_for(back.connected.wait(), 15)
    await asyncio.sleep(4.0)  # the examiner never came back: the grace (3 s) is over

    links = {link.peer.role: link for link in bot._links.values()}
    assert list(links) == ["student"], "the examiner's link closed after the grace"
    assert links["student"].peer.peer_id == back.welcome["peer_id"]
    await back.leave()
    await examiner.leave()
    await bot.stop()
    manifest = await run
    await server.stop()

    student_key = next(p.participant for p in manifest.participants if p.role == "student")
    examiner_entry = next(p for p in manifest.participants if p.role == "examiner")
    assert examiner_entry.left_at is not None
    runs = {f.path.split("/")[1][:8] for f in manifest.files if f.participant == student_key}
    assert {"video-01", "video-02", "audio-01", "audio-02"} <= runs, "the new offer: a new run"
    assert [g for g in manifest.gaps if g.participant == examiner_entry.participant] == []
