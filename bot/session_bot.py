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
from proctorbot.bot.media_feeds import MediaFeeds
from proctorbot.bot.network_quality import NetworkQuality
from proctorbot.bot.network_quality import measure as measure_network_quality
from proctorbot.bot.peer_directory import PeerDirectory
from proctorbot.bot.peer_link import NegotiationError, PeerLink
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.resume import take_over
from proctorbot.bot.session_bus import Detected, PeerJoined, PeerLeft, SessionBus, SessionEnding
from proctorbot.config.settings import Settings
from proctorbot.detection.events import DetectorEvent, EventKind
from proctorbot.recording.frames import EncodedFrame
from proctorbot.recording.manifest import Gap, Manifest
from proctorbot.recording.receiver_tap import ReceivedTrack
from proctorbot.recording.session_recorder import SessionRecorder, TrackRecording, participant_key

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
        self.bus.on(PeerJoined, lambda _: self.presence_changed.set())
        self.bus.on(PeerLeft, lambda _: self.presence_changed.set())
        self.manifest: Manifest | None = None
        self._plugins = plugins
        self._links: dict[str, PeerLink] = {}
        self._recordings: dict[int, TrackRecording] = {}  # by id() of the ReceivedTrack
        self._panel_handlers: dict[str, list[PanelHandler]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle ------------------------------------------------------------------
    async def run(self) -> Manifest:
        """Stay in the call until ``stop()``; reconnect when the signaling drops."""
        self._spawn(self._media_watchdog(), "media-watchdog")  # also while signaling is down
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
                    if self._links:  # peer to peer: the media does not need the server
                        logger.warning(
                            "session %s: signaling lost; %d media link(s) kept while it reconnects",
                            self.session_id,
                            len(self._links),
                        )
                    if not self._stopping.is_set():
                        await self._sleep_unless_stopping(self.settings.bot.reconnect_delay_seconds)
        finally:
            manifest = await self._shutdown()
        return manifest

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
        await self._drop_links("bot_stopped")
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
        connected = {self._key(link.peer) for link in self._links.values() if link.in_recording}
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
                    await self._close_link(str(message.get("from", "")), "negotiation_failed")
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
            kept = self._kept_link_of(peer)
            if kept is not None and self._media_flowing(kept):
                await self._rekey(kept, peer)  # back after the signaling dropped: media went on
        elif kind == "peer-left":
            peer_id = str(message.get("peer_id", ""))
            reason = str(message.get("reason", "left"))
            await self._close_link(peer_id, reason)
            self.peers.remove(peer_id, reason, None)
        elif kind == "offer":
            await self._accept_offer(sender, message.get("sdp"))
        elif kind == "answer":
            link = self._links.get(sender)
            if link is None:
                logger.warning(
                    "session %s: answer from %s without an offer", self.session_id, sender
                )
                return
            await link.accept_answer(message.get("sdp"))  # type: ignore[arg-type]
        elif kind == "ice":
            link = self._links.get(sender)
            if link is not None:
                await link.add_candidate(message.get("candidate"))
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
        listed = [PeerInfo.from_message(raw) for raw in message.get("peers", [])]
        self.peers.replace_all(listed)  # after a reconnect the server's list is the truth
        first = not self.joined.is_set()
        self.joined.set()
        logger.info("session %s: bot joined as %s", self.session_id, self.peer_id)
        for peer in listed:
            if peer.role == "bot":
                continue
            link = self._links.get(peer.peer_id)  # only the bot's own socket had dropped
            if link is None:
                link = self._kept_link_of(peer)
                if link is not None and self._media_flowing(link):
                    await self._rekey(link, peer)  # still here: its link and recording go on
                    continue
            elif self._media_flowing(link):
                continue
            carried = False
            if link is not None:  # a link that no longer carries media: a fresh one
                carried = link.in_recording
                await self._close_link(link.peer.peer_id, "renegotiated", participant_left=False)
            # we joined later: we offer (docs/architecture.md, "Who offers")
            self._spawn(self._offer(peer, carried), f"offer-{peer.peer_id}")
        if not first and self._links.keys() - self.peers.keys():
            self._spawn(self._close_unclaimed_links(), "rejoin-grace")
        if first:
            for plugin in self._plugins:
                self._spawn(plugin(self), f"plugin-{getattr(plugin, '__name__', plugin)}")

    def _kept_link_of(self, peer: PeerInfo) -> PeerLink | None:
        """A link to the same participant under a peer id the server no longer has (the
        signaling dropped and came back), or None."""
        for peer_id, link in self._links.items():
            if (
                peer_id not in self.peers
                and peer_id != peer.peer_id
                and link.peer.role == peer.role
                and self._key(link.peer) == self._key(peer)
            ):
                return link
        return None

    def _media_flowing(self, link: PeerLink) -> bool:
        """Connected, and media arrived within ``bot.media_timeout_seconds``."""
        arrivals = [t.last_arrival for t in link.tracks if t.last_arrival]
        return (
            link.state == "connected"
            and bool(arrivals)
            and time.time() - max(arrivals) < self.settings.bot.media_timeout_seconds
        )

    async def _rekey(self, link: PeerLink, peer: PeerInfo) -> None:
        """The same link under the participant's new peer id. Plug-ins following the old
        id see its feeds end and pick the new id up, as after a reload."""
        old = link.peer.peer_id
        self._links.pop(old, None)
        current = self._links.get(peer.peer_id)
        if current is not None and current is not link:
            await self._close_link(peer.peer_id, "replaced", participant_left=False)
        link.peer.peer_id = peer.peer_id
        link.peer.name, link.peer.mic, link.peer.cam = peer.name, peer.mic, peer.cam
        self.peers[peer.peer_id] = link.peer
        self._links[peer.peer_id] = link
        self._feeds.end_video(old)
        self._feeds.end_audio(old)
        logger.info(
            "session %s: %s is back as %s; its media link was kept",
            self.session_id,
            old,
            peer.peer_id,
        )

    async def _close_unclaimed_links(self) -> None:
        """After a reconnect: a kept link whose participant did not come back within
        ``bot.rejoin_grace_seconds`` is a departure."""
        await asyncio.sleep(self.settings.bot.rejoin_grace_seconds)
        for peer_id in list(self._links):
            if peer_id not in self.peers:
                logger.info(
                    "session %s: %s did not come back to the signaling; link closed",
                    self.session_id,
                    peer_id,
                )
                await self._close_link(peer_id, "left")

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
        if peer is None and peer_id in self._links:  # kept while the signaling is down
            peer = self._links[peer_id].peer
        return None if peer is None else self._key(peer)

    def _new_link(self, peer: PeerInfo) -> PeerLink:
        link = PeerLink(
            peer,
            send=self._send,
            on_track=self._track_started,
            ice_servers=self.settings.conference.ice_servers,
            loopback_only=self.settings.conference.allow_loopback,
            segment_seconds=self.settings.recording.segment_seconds,
        )
        self._links[peer.peer_id] = link

        @link.pc.on("connectionstatechange")
        async def _state_changed() -> None:
            if link.state == "failed" and self._links.get(peer.peer_id) is link:
                logger.warning("session %s: connection to %s failed", self.session_id, peer.peer_id)
                await self._close_link(peer.peer_id, "connection_failed", participant_left=True)

        self._spawn(self._connect_deadline(link), f"deadline-{peer.peer_id}")
        return link

    async def _offer(self, peer: PeerInfo, carried: bool = False) -> None:
        link = self._new_link(peer)
        link.in_recording = carried  # a new connection of someone already being recorded
        await link.offer()
        try:
            await asyncio.wait_for(link.answered.wait(), self.settings.bot.answer_timeout_seconds)
        except TimeoutError:
            logger.error(
                "session %s: %s (%s) never answered the bot's offer within %.0f s; "
                "its media is not recorded until it reconnects",
                self.session_id,
                peer.peer_id,
                peer.role,
                self.settings.bot.answer_timeout_seconds,
            )
            await self._close_link(peer.peer_id, "no_answer")

    async def _accept_offer(self, sender: str, sdp: Any) -> None:
        peer = self.peers.get(sender)
        if peer is None:
            logger.warning("session %s: offer from unknown peer %s", self.session_id, sender)
            return
        carried = False
        kept = self._kept_link_of(peer)
        if kept is not None:  # its new connection replaces the one kept since the drop
            carried = kept.in_recording
            await self._close_link(kept.peer.peer_id, "renegotiated", participant_left=False)
        if sender in self._links:  # a renegotiation: start a fresh link (a new recording run)
            carried = self._links[sender].in_recording
            await self._close_link(sender, "renegotiated", participant_left=False)
        link = self._new_link(peer)
        link.in_recording = carried
        if not isinstance(sdp, str):
            raise NegotiationError(f"offer from {sender} has no SDP")
        await link.accept_offer(sdp)

    async def _connect_deadline(self, link: PeerLink) -> None:
        await asyncio.sleep(self.settings.bot.connect_timeout_seconds)
        if self._links.get(link.peer.peer_id) is link and link.state != "connected":
            logger.error(
                "session %s: no media connection to %s after %.0f s (state %s); link closed",
                self.session_id,
                link.peer.peer_id,
                self.settings.bot.connect_timeout_seconds,
                link.state,
            )
            await self._close_link(link.peer.peer_id, "connect_timeout")

    async def _close_link(self, peer_id: str, reason: str, participant_left: bool = True) -> None:
        link = self._links.pop(peer_id, None)
        if link is None:
            return
        for received in link.tracks:
            if received.sinks:
                received.flush()
            recording = self._recordings.pop(id(received), None)
            if recording is not None:
                recording.close()
        self._feeds.end_video(peer_id)
        if participant_left or peer_id not in self.peers:  # gone, or now under a new id
            self._feeds.end_audio(peer_id)
        peer = link.peer
        if participant_left and link.in_recording:
            last = max((t.last_arrival or 0.0 for t in link.tracks), default=0.0) or None
            self.recorder.participant_left(self._key(peer), reason, last)
        logger.info("session %s: link to %s closed (%s)", self.session_id, peer_id, reason)
        await link.close()

    async def _drop_links(self, reason: str) -> None:
        for peer_id in list(self._links):
            await self._close_link(peer_id, reason)

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
    def _track_started(self, link: PeerLink, received: ReceivedTrack) -> None:
        peer = link.peer
        slot = id(received)

        def record(frame: EncodedFrame) -> None:
            recording = self._recordings.get(slot)
            if recording is None:
                if self._links.get(peer.peer_id) is not link:
                    return  # a frame racing the link's close
                recording = self.recorder.open_track(
                    self._key(peer), frame.kind, frame.codec, peer.role
                )
                self._recordings[slot] = recording
            recording.push(frame)

        received.sinks.append(record)
        if not link.in_recording:  # one join per connection, one leave when it closes
            link.in_recording = True
            self.recorder.participant_joined(self._key(peer), peer.role, peer.name, peer.person_id)
        logger.info(
            "session %s: receiving %s from %s", self.session_id, received.kind, peer.peer_id
        )

    async def _media_watchdog(self) -> None:
        timeout = self.settings.bot.media_timeout_seconds
        while True:
            await asyncio.sleep(min(1.0, timeout / 2))
            now = time.time()
            for link in list(self._links.values()):
                arrivals = [t.last_arrival for t in link.tracks if t.last_arrival]
                if arrivals and now - max(arrivals) > timeout:
                    self.recorder.media_stalled(self._key(link.peer), max(arrivals))

    # -- the API for areas that run inside the bot -----------------------------------
    async def network_quality(self, peer_id: str) -> NetworkQuality | None:
        """Packet loss and jitter of what the bot receives from a peer; None if not connected."""
        link = self._links.get(peer_id)
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
            link = self._links.get(peer_id)
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
