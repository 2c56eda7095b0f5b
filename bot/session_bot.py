"""The silent participant of one exam session.

``SessionBot.run`` connects to the signaling server as role "bot", negotiates a
receive-only ``PeerLink`` with every participant and feeds each received track to
the session's ``SessionRecorder``. It never sends media, only ``prompt`` and
``panel`` messages. Areas that run inside the bot (checklist, live detectors) use
the API at the bottom: ``video_frames``, ``audio_chunks``, ``send_prompt``,
``send_panel``, ``on_panel``, ``peers``, ``session_dir``, ``emit``.

Times given to those areas are seconds since ``started_at`` (the wall clock when the
bot started recording the session); ``manifest.json`` holds the same origin.

Signaling lost (the server crashed or restarts, the network to it dropped): the media
goes peer to peer, so every link and its recording **stay**; the bot reconnects every
``bot.reconnect_delay_seconds``. The server's ``welcome`` then names everyone present,
with new peer ids: a link whose participant is among them (same role and person) is kept
under the new id; one whose participant is not back yet is kept ``bot.rejoin_grace_seconds``
for their ``peer-joined`` (or their new offer, which replaces it), then closed as a
departure. After a restart of the bot itself, ``started_at`` is the folder's (the
manifest's) so that every time of the session has one origin.

Leaving (``stop()``, the server shutting down, a final refusal): ``stopped_at`` is set
(seconds, same clock), the plug-in tasks are cancelled and **awaited** (up to
``PLUGIN_STOP_TIMEOUT_S``) so that they close what is still open at that time and
emit it, and only then are the links dropped and the files closed. Events have their
own writer (``EventsLog``), so what was emitted is on disk at once, not queued behind
the media.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from proctorbot.bot.events_log import EventsLog
from proctorbot.bot.janus_media import JanusRoomWatch
from proctorbot.bot.media_feeds import MediaFeeds
from proctorbot.bot.media_links import MediaLinks
from proctorbot.bot.network_quality import NetworkQuality
from proctorbot.bot.network_quality import measure as measure_network_quality
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.peer_link import NegotiationError, ice_configuration
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.resume import take_over
from proctorbot.bot.session_bus import Detected, PeerJoined, PeerLeft, SessionBus, SessionEnding
from proctorbot.config.settings import Settings
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.recording.manifest import Gap, Manifest
from proctorbot.recording.receiver_tap import ReceivedTrack
from proctorbot.recording.session_recorder import SessionRecorder, participant_key

logger = logging.getLogger(__name__)

PanelHandler = Callable[[str, str, Any], Awaitable[None]]
SessionPlugin = Callable[["SessionBot"], Awaitable[None]]
# close codes from conference/signaling.py after which reconnecting is pointless
FINAL_CLOSE_CODES = {4403: "refused", 4001: "replaced by another bot connection"}
# How long a leaving bot waits for its plug-ins to close their open findings.
PLUGIN_STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class OpenGap:
    """A participant without media right now (left, or connected but stalled)."""

    participant: str  # the participant key (the track of its events)
    start: float  # seconds since started_at
    reason: str  # left | media_timeout | connection_failed ...


class BotRefused(Exception):
    """The signaling server refused the bot (bad token, closed session)."""


class SessionBot:
    def __init__(
        self,
        session_id: str,
        ws_url: str,
        settings: Settings,
        *,
        plugins: tuple[SessionPlugin, ...] = (),
        janus_place: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self.session_id = session_id
        self.ws_url = ws_url
        self.settings = settings
        self.session_dir: Path = settings.recordings_dir / session_id
        self.started_at = time.time()
        # Seconds since started_at when the bot began to leave; None while in the call.
        self.stopped_at: float | None = None
        # What happens in the session, for every part of it (bot/session_bus.py).
        self.bus = SessionBus(asyncio.get_running_loop())
        self.peers: PeerDirectory = PeerDirectory(self.bus.publish)
        self.peer_id: str | None = None
        self.recorder = SessionRecorder(
            self.session_dir, session_id, settings.recording, self.started_at
        )
        # A bot restarted in the folder of a session goes on on the same clock.
        self.started_at = self.recorder.manifest.started_at
        self._feeds = MediaFeeds(asyncio.get_running_loop(), self.started_at, self._peer_key)
        self.recorder.pcm_listeners.append(self._feeds.pcm_from_worker)
        self.recorder.gap_listeners.append(self._gap_closed)
        self.events_log = EventsLog(self.session_dir, f"events-{session_id}")
        # events.jsonl is the bus's durable record: written as events come, never read back
        self.bus.on(Detected, lambda detected: self.events_log.append(detected.event))
        take_over(self.session_dir, self.bus)  # what an earlier bot here left decided
        # Gaps already in events.jsonl (closed by an earlier bot process, or here as the
        # media came back): the rest closed when the recorder closed are written on leaving.
        self._reported_gaps = {
            (gap.participant, gap.start)
            for gap in self.recorder.manifest.gaps
            if gap.end is not None
        }
        self.joined = asyncio.Event()
        # Set whenever someone joins or leaves the call (the session-end watch waits on it).
        self.presence_changed = asyncio.Event()
        # Why a part of the session ended it early (a trial call done): the end watch leaves.
        self.end_requested: str | None = None
        self.bus.on(PeerJoined, lambda _: self.presence_changed.set())
        self.bus.on(PeerLeft, lambda _: self.presence_changed.set())
        self.manifest: Manifest | None = None
        self._plugins = plugins
        self.media = MediaLinks(
            session_id,
            settings,
            recorder=self.recorder,
            feeds=self._feeds,
            peers=self.peers,
            key=self._key,
            send=self._send,
            spawn=self._spawn,
        )
        # conference.mode "janus": the media comes through the session's VideoRoom
        # (bot/janus_media.py), not from peer-to-peer offers; signaling stays as it is.
        self.janus: JanusRoomWatch | None = None
        if settings.conference.mode == "janus" and janus_place is None:
            logger.error(
                "session %s: conference.mode is janus but the bot was given no room "
                "placement (janus_place): it records nothing",
                session_id,
            )
        if settings.conference.mode == "janus" and janus_place is not None:
            self.janus = JanusRoomWatch(
                session_id,
                settings,
                place=janus_place,
                media=self.media,
                peers=self.peers,
                key=self._key,
                session_dir=self.session_dir,
                spawn=self._spawn,
            )
        self._panel_handlers: dict[str, list[PanelHandler]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle ------------------------------------------------------------------
    async def run(self) -> Manifest:
        """Stay in the call until ``stop()``; reconnect when the signaling drops."""
        self._spawn(self.media.media_watchdog(), "media-watchdog")  # also while signaling is down
        if self.janus is not None:
            self._spawn(self.janus.run(), "janus-room")
        try:
            async with aiohttp.ClientSession() as http:
                while not self._stopping.is_set():
                    try:
                        async with http.ws_connect(
                            self.ws_url, heartbeat=10.0, max_msg_size=8 << 20
                        ) as ws:
                            self._ws = ws
                            await self._serve(ws)
                            final = FINAL_CLOSE_CODES.get(ws.close_code or 0)
                            if final and not self._stopping.is_set():
                                raise BotRefused(f"signaling closed the bot's connection: {final}")
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        logger.warning(
                            "session %s: signaling unreachable: %s", self.session_id, exc
                        )
                    finally:
                        self._ws = None
                    if self._stopping.is_set():
                        break  # leaving: _shutdown stops the plug-ins before the links close
                    if self.media.links:  # peer to peer: the media does not need the server
                        logger.warning(
                            "session %s: signaling lost; %d media link(s) kept while it reconnects",
                            self.session_id,
                            len(self.media.links),
                        )
                    if not self._stopping.is_set():
                        await self._sleep_unless_stopping(self.settings.bot.reconnect_delay_seconds)
        finally:
            manifest = await self._shutdown()
        return manifest

    def request_end(self, reason: str) -> None:
        """The session is over for a part that runs in it (``trial_over``): the end watch
        (bot/session_end.py) leaves now, as at any end — pages told, the hand-over runs."""
        self.end_requested = reason
        self.presence_changed.set()

    async def stop(self, reason: str = "stopped") -> None:
        if self.stopped_at is None:
            self.stopped_at = round(time.time() - self.started_at, 3)
            self.bus.publish(SessionEnding(reason, self.stopped_at))
        self._stopping.set()
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _shutdown(self) -> Manifest:
        if self.manifest is not None:
            return self.manifest
        if self.stopped_at is None:  # a final refusal or a crash, not stop()
            self.stopped_at = round(time.time() - self.started_at, 3)
            self.bus.publish(SessionEnding("signaling_refused", self.stopped_at))
        await self._close_open_stalls()
        await self._stop_tasks()
        await self.media.drop_links("bot_stopped")
        self.manifest = await self.recorder.close()
        self._report_gaps_closed_on_leaving(self.manifest)
        await self.events_log.close()
        # The composite is made by the hand-over (after the report), not here: leaving
        # and a server shutdown stay quick.
        logger.info("session %s: recording closed in %s", self.session_id, self.session_dir)
        return self.manifest

    async def _close_open_stalls(self) -> None:
        """A participant still connected but without media since a while (an open
        ``media_timeout`` gap) when the bot leaves: the gap ends now, in the manifest's
        gaps and as a ``participant_left`` event written before the plug-ins stop (the
        live watch reads it for its alerts). Closing the links next would turn it into a
        departure, which the recorder does not count as a gap."""
        connected = self.media.recorded_keys()
        end = self.started_at + (self.stopped_at or 0.0)
        try:
            await self.recorder.end_stalls(connected, end)  # events via _gap_closed
        except Exception:  # noqa: BLE001 - leaving must go on
            logger.exception("session %s: open gaps not closed", self.session_id)
        await self.events_log.flush()

    async def _stop_tasks(self) -> None:
        """Cancel the session's tasks and let them finish: a plug-in closes its open spans
        at ``stopped_at`` and emits them while the files are still open."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=PLUGIN_STOP_TIMEOUT_S)
        for task in late:
            logger.error(
                "session %s: task %s did not stop within %.0f s; its open findings may be lost",
                self.session_id,
                task.get_name(),
                PLUGIN_STOP_TIMEOUT_S,
            )

    def _report_gaps_closed_on_leaving(self, manifest: Manifest) -> None:
        """A media stall still open when the bot leaves is closed by the recorder at that
        moment (the participant is still connected): it becomes a ``participant_left``
        event like any other gap, or the report would never count it."""
        for gap in manifest.gaps:
            if gap.end is not None and (gap.participant, gap.start) not in self._reported_gaps:
                self._gap_closed(gap)

    def _spawn(self, coroutine: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "session %s: task %s failed",
                self.session_id,
                task.get_name(),
                exc_info=task.exception(),
            )

    # -- signaling -------------------------------------------------------------------
    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        closer = self._spawn(self._close_when_stopping(ws), "closer")
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                    if not isinstance(message, dict):
                        raise ValueError("not an object")
                except ValueError:
                    logger.warning("session %s: unreadable signaling message", self.session_id)
                    continue
                try:
                    await self._handle(message)
                except NegotiationError as exc:
                    logger.error("session %s: %s; that peer's link is closed", self.session_id, exc)
                    await self.media.close_link(str(message.get("from", "")), "negotiation_failed")
                except Exception:  # noqa: BLE001 - one bad message must not end the session
                    logger.exception(
                        "session %s: message %s failed", self.session_id, message.get("type")
                    )
        finally:
            closer.cancel()

    async def _close_when_stopping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await self._stopping.wait()  # stop() may come while the socket is still opening
        await ws.close()

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        sender = str(message.get("from", ""))
        if kind == "welcome":
            await self._welcome(message)
        elif kind == "peer-joined":
            peer = self._add_peer(PeerInfo.from_message(message["peer"]))
            kept = self.media.kept_link_of(peer)
            if kept is not None and self.media.media_flowing(kept):
                await self.media.rekey(
                    kept, peer
                )  # back after the signaling dropped: media went on
        elif kind == "peer-left":
            peer_id = str(message.get("peer_id", ""))
            reason = str(message.get("reason", "left"))
            await self.media.close_link(peer_id, reason)
            self.peers.remove(peer_id, reason, None)
        elif kind == "offer":
            await self.media.accept_offer(sender, message.get("sdp"))
        elif kind == "answer":
            await self.media.accept_answer(sender, message.get("sdp"))
        elif kind == "ice":
            await self.media.add_candidate(sender, message.get("candidate"))
        elif kind == "media-state":
            peer = self.peers.get(sender)
            if peer is not None:
                peer.mic, peer.cam = bool(message.get("mic")), bool(message.get("cam"))
        elif kind == "panel":
            await self._dispatch_panel(sender, message)
        elif kind == "error":
            logger.warning(
                "session %s: signaling error %s: %s",
                self.session_id,
                message.get("code"),
                message.get("message"),
            )
        else:
            logger.debug("session %s: ignored message %s", self.session_id, kind)

    async def _welcome(self, message: dict[str, Any]) -> None:
        self.peer_id = str(message["peer_id"])
        self.media.ice = ice_configuration(message)  # TURN credentials fresh in each welcome
        listed = [PeerInfo.from_message(raw) for raw in message.get("peers", [])]
        self.peers.replace_all(listed)  # after a reconnect the server's list is the truth
        first = not self.joined.is_set()
        self.joined.set()
        logger.info("session %s: bot joined as %s", self.session_id, self.peer_id)
        for peer in listed:
            if peer.role == "bot":
                continue
            link = self.media.links.get(peer.peer_id)  # only the bot's own socket had dropped
            if link is None:
                link = self.media.kept_link_of(peer)
                if link is not None and self.media.media_flowing(link):
                    await self.media.rekey(link, peer)  # still here: its link and recording go on
                    continue
            elif self.media.media_flowing(link):
                continue
            if self.janus is not None:  # Janus's publishers are followed by the room watch
                continue
            carried = False
            if link is not None:  # a link that no longer carries media: a fresh one
                carried = link.in_recording
                await self.media.close_link(
                    link.peer.peer_id, "renegotiated", participant_left=False
                )
            # we joined later: we offer (docs/architecture.md, "Who offers")
            self._spawn(self.media.offer(peer, carried), f"offer-{peer.peer_id}")
        if not first and self.media.links.keys() - self.peers.keys():
            self._spawn(self.media.close_unclaimed_links(), "rejoin-grace")
        if first:
            for plugin in self._plugins:
                self._spawn(plugin(self), f"plugin-{getattr(plugin, '__name__', plugin)}")

    def _add_peer(self, peer: PeerInfo) -> PeerInfo:
        self.peers[peer.peer_id] = peer  # the directory tells the bus
        return peer

    def people_present(self) -> bool:
        """Anyone but the bot in the call right now (as the signaling server said)."""
        return any(peer.role != "bot" for peer in self.peers.values())

    def _key(self, peer: PeerInfo) -> str:
        return participant_key(peer.role, peer.person_id, peer.name, peer.peer_id, peer.device)

    def _peer_key(self, peer_id: str) -> str | None:
        peer = self.peers.get(peer_id)
        if peer is None and peer_id in self.media.links:  # kept while the signaling is down
            peer = self.media.links[peer_id].peer
        return None if peer is None else self._key(peer)

    def sources_recording(self, peer_id: str, fresh_s: float = 5.0) -> dict[str, bool]:
        """Which of the peer's sources are being recorded right now: a frame of its
        camera / microphone reached the recorder within ``fresh_s`` seconds [002 §5.9]."""
        key = self._peer_key(peer_id)
        kinds = set() if key is None else self.media.kinds_recording(key, fresh_s, time.time())
        return {"camera": "video" in kinds, "microphone": "audio" in kinds}

    async def _send(self, message: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            logger.warning(
                "session %s: %s not sent, signaling is down", self.session_id, message["type"]
            )
            return False
        await ws.send_str(json.dumps(message, ensure_ascii=False))
        return True

    # -- media -----------------------------------------------------------------------
    @property
    def _links(self) -> dict[str, Any]:  # the media links by peer id (tests look at them)
        return self.media.links

    # -- the API for areas that run inside the bot -----------------------------------
    async def network_quality(self, peer_id: str) -> NetworkQuality | None:
        """Packet loss and jitter of what the bot receives from a peer; None if not connected."""
        link = self.media.links.get(peer_id)
        if link is None or link.state != "connected":
            return None
        return await measure_network_quality(link.pc)

    async def send_prompt(
        self, key: str, text: str, to: str | None = None, level: str = "info"
    ) -> bool:
        """A text line in the call page's prompt panel of ``to`` (None: everyone); ``t`` is
        seconds since the recording start, the time the page shows beside it."""
        since = round(time.time() - self.started_at, 1)
        return await self._send(
            {"type": "prompt", "to": to, "key": key, "text": text, "level": level, "t": since}
        )

    async def send_panel(self, area: str, action: str, data: Any, to: str | None = None) -> bool:
        return await self._send(
            {"type": "panel", "to": to, "area": area, "action": action, "data": data}
        )

    def on_panel(self, area: str, handler: PanelHandler) -> None:
        """``await handler(from_peer, action, data)`` for each panel message of ``area``."""
        self._panel_handlers.setdefault(area, []).append(handler)

    async def _dispatch_panel(self, sender: str, message: dict[str, Any]) -> None:
        for handler in self._panel_handlers.get(str(message.get("area")), []):
            try:
                await handler(sender, str(message.get("action", "")), message.get("data"))
            except Exception:  # noqa: BLE001 - an area's bug must not end the session
                logger.exception(
                    "session %s: panel handler for %s failed", self.session_id, message.get("area")
                )

    def open_gaps(self) -> list[OpenGap]:
        """Gaps still open now, from the recorder's manifest as it stands (a snapshot: the
        recorder thread opens and closes them; the ``participant_left`` event is written
        when one closes, or when the bot leaves)."""
        return [
            OpenGap(gap.participant, round(gap.start - self.started_at, 3), gap.reason)
            for gap in list(self.recorder.manifest.gaps)
            if gap.end is None
        ]

    def emit(self, event: DetectorEvent) -> None:
        """Publish a detector event on the session bus (from any thread): ``events.jsonl``
        gets it at once (its own thread, in order, synced), the subscribers on the loop."""
        self.bus.publish(Detected(event))

    async def video_frames(
        self, peer_id: str, fps: float = 2.0
    ) -> AsyncIterator[tuple[float, np.ndarray]]:
        """``(t_seconds, BGR uint8)`` from a peer's camera, decoded off the loop.

        Ends when the peer's connection closes (it leaves or renegotiates).
        """
        received = await self._wait_track(peer_id, "video")
        if received is not None:
            async for item in self._feeds.video(peer_id, received, fps):
                yield item

    async def audio_chunks(self, peer_id: str) -> AsyncIterator[tuple[float, np.ndarray]]:
        """``(t_seconds, int16 mono 16 kHz)`` from a peer's microphone until it leaves."""
        if peer_id in self.peers:
            async for item in self._feeds.audio(peer_id):
                yield item

    async def _wait_track(
        self, peer_id: str, kind: str, timeout: float = 30.0
    ) -> ReceivedTrack | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and peer_id in self.peers:
            link = self.media.links.get(peer_id)
            for received in link.tracks if link else []:
                if received.kind == kind:
                    return received
            await asyncio.sleep(0.2)
        return None

    def _gap_closed(self, gap: Gap) -> None:
        # recording thread (or the loop, once the recorder is closed)
        self._reported_gaps.add((gap.participant, gap.start))
        event = DetectorEvent(
            kind=EventKind.PARTICIPANT_LEFT,
            start=round(gap.start - self.started_at, 3),
            end=round((gap.end or gap.start) - self.started_at, 3),
            track=gap.participant,
            details={"reason": gap.reason},
        )
        self.bus.publish(Detected(event))
