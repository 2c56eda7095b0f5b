"""Exam rooms per 2-core worker with the full live detection on (issue 15).

    unshare --net sh -c 'ip link set lo up && exec flock /tmp/proctorbot-heavy.lock \\
        .venv/bin/python benchmarks/capacity.py --rooms 1,2,4,6 --seconds 60 --json'

(a loopback-only network namespace, as ``make test`` runs WebRTC; ICE is restricted to
127.0.0.1 either way.) ``--bot-processes per-room`` gives each room a worker process of
its own (its own data folder), as the scale-out's bot workers run one bot a process
(``proctorbot worker --processes K``): no room waits for another's Python (the GIL);
the default ``one`` puts every room in one process, as ``proctorbot serve`` does.
For each N of ``--rooms`` a fresh worker process is started: the
server built as ``proctorbot serve`` builds it (``build_app`` with the bot, the live watch
and hand-over, the disk watch; the real models of ``ctx.models``, loaded before the
clock starts as in a server that already ran a session), joining N sessions of the
``university-admission`` profile by its own poll. The checklist is not run (it waits for
people's answers), so the live watch starts at once, and the student's voiceprint is
published on the session bus as the checklist's name-aloud step does.

This process sends, per room, a student and an examiner (aiortc senders of
``tests/bot/participant.py``, handing over frames encoded beforehand, so the senders cost
RTP and SRTP only and leave the cores to the worker):

* student video: 640x480 at 15 fps, VP8 ~600 kbit/s, a keyframe every 2 s, drawn from a
  portrait of ../shared/evaldata/faces; a second face (another portrait) appears beside
  the student at 8 s and every 20 s after, for 6 s;
* student audio: Opus 20 ms, one LibriSpeech speaker of ../shared/evaldata talking, with
  a prompter (another speaker, -6 dB) for 3 s at 16 s and every 20 s after;
* examiner: a test picture and now and then a question (a third speaker).

Measured over ``--seconds`` per N: the worker's CPU (process and children, from /proc)
in core-seconds per second; frames sent / received by the bot / written by the recorder
per track (frames lost: sent and never written, counted from the moment every track reaches
the bot, so Janus mode's subscription start is not a loss; what was missing before that is
``frames_lost_before_window``); each injected onset's alert delay (from the
onset to ``FindingAlerted`` on the session bus, and to the outbox row); the event loop's
lag; the detectors' own time (video ms per frame and frames analysed per second, audio
core-seconds per second), the worker's CPU by thread, and frames the live watch's queues
dropped. ``--profile`` adds a sampling profile (``sys._current_frames`` every 20 ms; wait
functions left out). A table per mode; with ``--json`` the last line is one object:
``{"rooms_per_worker", "frames_lost", "alert_delay_max_s", "mode", "rows": [...], ...}``
where ``rooms_per_worker`` is the largest N with 0 frames lost, every onset alerted and
``alert_delay_max_s`` <= 5 s (``frames_lost`` and ``alert_delay_max_s`` are that N's, or
the smallest N's when none passes).

The machine is shared: the load average before and during each N is printed; figures
taken under others' load are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import fractions
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.bot.participant, tests.fixtures.synthetic
EVALDATA = ROOT.parent / "shared" / "evaldata"
SPEAKERS = EVALDATA / "speech_single" / "librispeech_train_clean_100_20spk"
FACES = EVALDATA / "faces" / "one_face"
STUDENT_VOICE, PROMPTER_VOICE, EXAMINER_VOICE = (
    "103-1240-0000",
    "198-126831-0000",
    "229-130880-0000",
)
# a close-up the live analyzer finds alone, and a portrait it finds beside it (checked
# with VideoWatcher; an official portrait beside another is not found at 640x480)
STUDENT_FACE, SECOND_FACE = "dlib_Tom_Cruise_avp_2014_4.jpg", "fr_obama.jpg"
FPS = 15
SR = 16000
FACE_FIRST_S, FACE_EVERY_S, FACE_SECONDS = 8.0, 20.0, 6.0
PROMPTER_FIRST_S, PROMPTER_EVERY_S, PROMPTER_SECONDS = 16.0, 20.0, 3.0
ALERT_GOAL_S = 5.0
ALERT_KINDS = {"extra_person": "extra_person", "prompter": "third_party_voice"}
WORKER_AREAS = {"bot": True, "handover": True, "disk_space": True}


# ---------------------------------------------------------------------------- media
@dataclass
class Media:
    """Encoded media for every room, and when the injected conditions begin."""

    student_video: list[bytes]
    student_audio: list[bytes]
    examiner_video: list[bytes]
    examiner_audio: list[bytes]
    enroll_wav: Path
    onsets: list[tuple[str, float]]  # (what, seconds from the track's first frame)


def ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], input=stdin, check=True)


def read_voice(name: str) -> np.ndarray:
    with wave.open(str(SPEAKERS / f"{name}.wav")) as handle:
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.float32)
    if rate != SR:
        data = np.interp(np.arange(0, len(data), rate / SR), np.arange(len(data)), data)
    return data.astype(np.float32)


def voiced_from(x: np.ndarray, at: float = 0.0, frame: int = 320) -> int:
    """The first 20-ms frame at or after ``at`` s that holds speech (a sample index)."""
    n = len(x) // frame
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.1 * energy.max())
    loud = loud[loud >= int(at * SR) // frame]
    return int(loud[0]) * frame if loud.size else int(at * SR)


def onsets_for(seconds: float) -> list[tuple[str, float]]:
    """Injected conditions that end (plus 8 s to be alerted) before the senders stop."""
    found = []
    for what, first, every, length in (
        ("extra_person", FACE_FIRST_S, FACE_EVERY_S, FACE_SECONDS),
        ("prompter", PROMPTER_FIRST_S, PROMPTER_EVERY_S, PROMPTER_SECONDS),
    ):
        at = first
        while at + length + 8.0 <= seconds:
            found.append((what, at))
            at += every
    return sorted(found, key=lambda o: o[1])


def student_speech(seconds: float, prompters: list[float]) -> tuple[np.ndarray, list[float]]:
    """The student talking (0.7-s pauses), with a 4-s pause around each prompter turn;
    returns the track and each turn's exact onset (its first voiced frame)."""
    student, prompter = read_voice(STUDENT_VOICE), read_voice(PROMPTER_VOICE)
    track = np.zeros(int(seconds * SR), np.float32)
    quiet = [(int((p - 0.5) * SR), int((p + PROMPTER_SECONDS + 0.5) * SR)) for p in prompters]
    at = 0
    while at < len(track):
        end = min(len(track), at + len(student))
        blocked = next((q for q in quiet if at < q[1] and end > q[0]), None)
        if blocked is not None:
            end = max(at, blocked[0])
            track[at:end] = student[: end - at]
            at = blocked[1]
            continue
        track[at:end] = student[: end - at]
        at = end + int(0.7 * SR)
    level = float(np.sqrt(np.mean(student**2)))
    exact = []
    for p in prompters:
        start = voiced_from(prompter, 1.0)
        piece = prompter[start : start + int(PROMPTER_SECONDS * SR)]
        piece = piece * level / float(np.sqrt(np.mean(piece**2)) + 1e-9) * 10 ** (-6 / 20)
        a = int(p * SR)
        track[a : a + len(piece)] = piece[: len(track) - a]
        exact.append(p + voiced_from(piece) / SR)
    return np.clip(track, -32768, 32767), exact


def examiner_speech(seconds: float) -> np.ndarray:
    """A question of ~4 s every 30 s (the first at 3 s)."""
    voice = read_voice(EXAMINER_VOICE)[: 4 * SR]
    track = np.zeros(int(seconds * SR), np.float32)
    for start in range(3, int(seconds) - 4, 30):
        track[start * SR : start * SR + len(voice)] = voice
    return track


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SR)
        handle.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def packets_of(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams[0]) if p.size]


def encode_video(frames: list[np.ndarray], path: Path) -> list[bytes]:
    """VP8 as a browser sends it: ~600 kbit/s, realtime, a keyframe every 2 s."""
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "640x480", "-r", str(FPS), "-i", "-",
        "-c:v", "libvpx", "-b:v", "600k", "-deadline", "realtime", "-cpu-used", "8",
        "-auto-alt-ref", "0", "-lag-in-frames", "0", "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-f", "ivf", str(path),
        stdin=b"".join(f.tobytes() for f in frames),
    )  # fmt: skip
    return packets_of(path)


def encode_audio(wav: Path, path: Path) -> list[bytes]:
    ffmpeg(
        "-i", str(wav), "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "32k",
        "-frame_duration", "20", "-application", "voip", "-f", "ogg", str(path),
    )  # fmt: skip
    return packets_of(path)


def make_media(
    folder: Path, seconds: float, faces: tuple[str, str] = (STUDENT_FACE, SECOND_FACE)
) -> Media:
    """Everything the senders hand over, for a run of ``seconds`` (+ a spare 20 s)."""
    import cv2

    from tests.fixtures.synthetic import Segment, render_scenario

    total = seconds + 20.0
    onsets = onsets_for(seconds)
    second_faces = [at for what, at in onsets if what == "extra_person"]
    prompters = [at for what, at in onsets if what == "prompter"]
    segments, at = [], 0.0
    for start in second_faces:
        segments += [Segment("present", start - at), Segment("second_face", FACE_SECONDS)]
        at = start + FACE_SECONDS
    segments.append(Segment("present", total - at))
    student_face = cv2.imread(str(FACES / faces[0]))
    second_face = cv2.imread(str(FACES / faces[1]))
    frames = [
        frame
        for _, frame in render_scenario(
            segments, fps=FPS, face_photo=student_face, second_photo=second_face
        )
    ]
    student_video = encode_video(frames, folder / "student.ivf")
    bars = folder / "examiner.ivf"
    ffmpeg(
        "-f", "lavfi", "-i", f"smptebars=size=640x480:rate={FPS}", "-t", str(total),
        "-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8",
        "-auto-alt-ref", "0", "-lag-in-frames", "0", "-g", str(2 * FPS), "-f", "ivf", str(bars),
    )  # fmt: skip
    speech, exact = student_speech(total, prompters)
    student_audio = encode_audio(write_wav(folder / "student.wav", speech), folder / "s.ogg")
    examiner_wav = write_wav(folder / "examiner.wav", examiner_speech(total))
    enroll = read_voice(STUDENT_VOICE)[: 10 * SR]  # the name said aloud: the same speaker
    onsets = [(w, at) for w, at in onsets if w == "extra_person"] + [
        ("prompter", at) for at in exact
    ]
    return Media(
        student_video=student_video,
        student_audio=student_audio,
        examiner_video=packets_of(bars),
        examiner_audio=encode_audio(examiner_wav, folder / "e.ogg"),
        enroll_wav=write_wav(folder / "enroll.wav", enroll),
        onsets=sorted(onsets, key=lambda o: o[1]),
    )


def packet_track_class() -> type:
    """A MediaStreamTrack that hands over encoded packets in real time (aiortc packs them
    without encoding: ``RTCRtpSender`` takes an ``av.Packet`` as it is)."""
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from tests.bot.participant import capture_pts, wait_turn

    class PacketTrack(MediaStreamTrack):
        def __init__(self, kind: str, packets: list[bytes], period: float, clock: int) -> None:
            super().__init__()
            self.kind = kind
            self.packets = packets
            self.period = period
            self.clock = clock
            self.frames_sent = 0
            self.running = True
            self._start: float | None = None
            self._origin = 0.0
            self._counted = 0
            self._paused = 0.0

        @property
        def first_frame_at(self) -> float | None:
            """Wall time of the first frame handed over (the media's second 0)."""
            return self._origin if self._start is not None else None

        async def recv(self) -> av.Packet:
            await wait_turn(self, self.period)
            packet = av.Packet(self.packets[self.frames_sent % len(self.packets)])
            packet.pts = capture_pts(self, self.period, self.clock)
            packet.time_base = fractions.Fraction(1, self.clock)
            self.frames_sent += 1
            return packet

    return PacketTrack


class JanusSender:
    """A participant in Janus mode: its signaling socket (the peer id) and one publication
    of its two tracks into the session's VideoRoom under that id, as the signaling bridge
    publishes a browser (tests/conference/test_janus_bot.py does the same)."""

    def __init__(self, ws_url: str, video: Any, audio: Any) -> None:
        self.ws_url = ws_url
        self.video, self.audio = video, audio
        self.connected = asyncio.Event()
        self.peer_id = ""
        self._http: Any = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._handle: Any = None
        self._pc: Any = None

    async def join(self, client: Any, room: int, address: str) -> None:
        import aiohttp
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from proctorbot.bot.loopback import restrict_to_address
        from proctorbot.conference.janus import videoroom

        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.ws_url)
        welcome = json.loads((await self._ws.receive(timeout=10)).data)
        self.peer_id = welcome["peer_id"]
        self._reader = asyncio.create_task(self._drain())
        session = await client.create_session()
        self._handle = await session.attach()
        await videoroom.join_as_publisher(self._handle, room, self.peer_id)
        self._pc = pc = RTCPeerConnection()
        pc.addTransceiver(self.audio, direction="sendonly")
        pc.addTransceiver(self.video, direction="sendonly")

        @pc.on("connectionstatechange")
        def _changed() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        restrict_to_address(pc, address)
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        answer = await videoroom.publish(self._handle, offer)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def _drain(self) -> None:
        async for _ in self._ws:
            pass

    def pause_media(self) -> None:
        self.video.running = self.audio.running = False

    async def leave(self) -> None:
        self.pause_media()
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                await handle.detach()
            except Exception:  # noqa: BLE001 - Janus may have dropped it already
                pass
        if self._pc is not None:
            await self._pc.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


# ---------------------------------------------------------------------------- worker
def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime + cutime + cstime of a process, from /proc (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def thread_ticks(native_id: int | None) -> int | None:
    """utime + stime of one thread of this process, in clock ticks (None: gone)."""
    try:
        stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@dataclass
class Timings:
    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    worst: float = 0.0

    def add(self, wall: float, cpu: float) -> None:
        self.calls += 1
        self.wall += wall
        self.cpu += cpu
        self.worst = max(self.worst, wall)


@dataclass
class WorkerProbe:
    """What the benchmark reads inside the worker: alerts, frames, lag, detector time."""

    voiceprint: Any
    manager: Any = None
    rooms: Any = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    lag: list[tuple[float, float]] = field(default_factory=list)
    video: Timings = field(default_factory=Timings)
    audio: Timings = field(default_factory=Timings)
    decoder_dropped: int = 0
    audio_dropped: int = 0
    samples: collections.Counter = field(default_factory=collections.Counter)
    profiling: bool = False

    async def plugin(self, bot: Any) -> None:
        """A session plug-in beside the live watch: the voiceprint, and the alerts' times."""
        from proctorbot.bot.live_alerts import alert_kind
        from proctorbot.bot.session_bus import FindingAlerted, VoiceprintEnrolled

        if self.voiceprint is not None:
            bot.bus.publish(VoiceprintEnrolled(self.voiceprint))

        def alerted(event: FindingAlerted) -> None:
            finding = event.finding
            self.alerts.append(
                {
                    "session": bot.session_id,
                    "kind": alert_kind(finding),
                    "rule": finding.rule,
                    "at": time.time(),
                    "onset": bot.started_at + finding.start,
                }
            )

        bot.bus.on(FindingAlerted, alerted)
        await asyncio.Event().wait()

    async def watch_loop(self, every: float = 0.1) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(every)
            self.lag.append((time.time(), loop.time() - before - every))

    def sample_stacks(self, every: float = 0.02) -> None:
        """A thread: where each thread is, every 20 ms, counted only for threads whose CPU
        time (/proc/self/task/<id>/stat) moved since the last look: a thread blocked in C
        (a queue, a socket) shows its Python frame but uses no CPU, and is left out."""
        waits = {"wait", "get", "select", "_worker", "sleep", "acquire", "poll", "_recv", "recv"}
        depth = int(os.environ.get("PROCTORBOT_BENCH_STACK_DEPTH", "3"))
        me = threading.get_ident()
        last: dict[int, int] = {}
        while True:
            time.sleep(every)
            if not self.profiling:
                continue
            threads = {t.ident: t for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                thread = threads.get(ident)
                if ident == me or thread is None or frame.f_code.co_name in waits:
                    continue
                ticks = thread_ticks(thread.native_id)
                if ticks is None or ticks == last.get(ident):
                    continue
                last[ident] = ticks
                where = []
                while frame is not None and len(where) < depth:
                    code = frame.f_code
                    where.append(f"{Path(code.co_filename).name}:{code.co_name}")
                    frame = frame.f_back
                name = thread.name.rstrip("0123456789_")
                self.samples[f"{name} | {' < '.join(where)}"] += 1

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds by thread name (digits dropped), from /proc/self/task."""
        names = {t.native_id: t.name.rstrip("0123456789_") for t in threading.enumerate()}
        tick = os.sysconf("SC_CLK_TCK")
        by_name: dict[str, float] = collections.defaultdict(float)
        for task in Path("/proc/self/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            name = names.get(int(task.name), f"native:{comm}")
            by_name[name] += (int(fields[11]) + int(fields[12])) / tick
        return dict(by_name)

    def tracks(self) -> dict[str, dict[str, int]]:
        """Frames the bot received per track: ``<session>/<role>/<kind>``."""
        found: dict[str, dict[str, int]] = {}
        for session_id, bot in (self.manager.bots if self.manager else {}).items():
            for link in list(bot.media.links.values()):
                for received in link.tracks:
                    key = f"{session_id}/{link.peer.role}/{received.kind}"
                    found[key] = {"frames": found.get(key, {}).get("frames", 0) + received.frames}
        return found

    async def stats(self, request: Any) -> Any:
        from aiohttp import web
        from proctorbot.conference.keys import ROOMS

        since = float(request.query.get("since", 0))
        self.profiling = request.query.get("profile") == "1" or self.profiling
        registry = request.app[ROOMS]
        bots_in = sum(
            1
            for session_id in (self.manager.bots if self.manager else {})
            if (room := registry.get(session_id)) is not None and room.with_role("bot")
        )
        return web.json_response(
            {
                "wall": time.time(),
                "cpu": cpu_seconds(),
                "threads": self.thread_cpu(),
                "bots_in_rooms": bots_in,
                "tracks": self.tracks(),
                "alerts": self.alerts,
                "lag": [lag for at, lag in self.lag if at >= since],
                "video": self.video.__dict__,
                "audio": self.audio.__dict__,
                "decoder_dropped": self.decoder_dropped,
                "audio_dropped": self.audio_dropped,
                "profile": self.samples.most_common(25),
            }
        )


def instrument(probe: WorkerProbe) -> None:
    """Time the live watch's detector calls and count its queues' drops (this process only:
    the product's code is unchanged)."""
    from proctorbot.bot.live_audio import StudentAudioWatch
    from proctorbot.bot.live_video import StudentVideoWatch
    from proctorbot.bot.media_feeds import MediaFeeds
    from proctorbot.bot.video_decoder import VideoFrameDecoder

    feed = StudentVideoWatch._feed

    def timed_feed(self: Any, t: float, frame: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return feed(self, t, frame)
        finally:
            probe.video.add(time.perf_counter() - wall, time.thread_time() - cpu)

    run = StudentAudioWatch._run

    async def timed_run(self: Any, func: Any, *args: Any) -> Any:
        def timed(*inner: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return func(*inner)
            finally:
                probe.audio.add(time.perf_counter() - wall, time.thread_time() - cpu)

        return await run(self, timed, *args)

    deliver = VideoFrameDecoder._deliver

    def counted_deliver(self: Any, item: Any) -> None:
        if item is not None and self.frames.full():
            probe.decoder_dropped += 1
        deliver(self, item)

    deliver_audio = MediaFeeds._deliver

    def counted_audio(self: Any, key: str, t: float, pcm: Any) -> None:
        for peer_id, queues in list(self._audio.items()):
            if self._key_of(peer_id) == key:
                probe.audio_dropped += sum(1 for q in queues if q.full())
        deliver_audio(self, key, t, pcm)

    StudentVideoWatch._feed = timed_feed
    StudentAudioWatch._run = timed_run
    VideoFrameDecoder._deliver = counted_deliver
    MediaFeeds._deliver = counted_audio


async def worker(url_file: Path, enroll_wav: Path) -> None:
    """The worker: the server as ``proctorbot serve`` builds it, until SIGTERM."""
    from aiohttp import web
    from proctorbot.bot.service import BOT_MANAGER
    from proctorbot.conference.keys import ROOMS
    from proctorbot.config.settings import load_settings
    from proctorbot.detection.voiceprint import enroll

    from proctorbot.app import Areas, build_app
    from proctorbot.context import AppContext

    ctx = AppContext.build(load_settings(), migrate=False)
    models = await asyncio.to_thread(ctx.models.audio_models)
    # every model in memory before the clock (AudioModels loads each on first use: the
    # segmentation model's first use imports pyannote and torch._dynamo, about 1 core-s,
    # which landed in the first measured window and was read as a per-call cost)
    await asyncio.to_thread(lambda: (models.embedder, models.overlap, models.new_vad()))
    await asyncio.to_thread(ctx.models.face_analyzer)
    with wave.open(str(enroll_wav)) as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
    samples = pcm.astype(np.float32) / 32768.0
    enrolled = await asyncio.to_thread(enroll, samples, models.embedder, models.new_vad())
    probe = WorkerProbe(enrolled.voiceprint)
    instrument(probe)
    app = await build_app(ctx, areas=Areas(**WORKER_AREAS))
    probe.manager, probe.rooms = app[BOT_MANAGER], app[ROOMS]
    probe.manager.add_session_plugin(probe.plugin)
    app.router.add_get("/bench/stats", probe.stats)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    ctx.settings.server.public_url = f"http://{host}:{port}"
    lag = asyncio.create_task(probe.watch_loop())
    threading.Thread(target=probe.sample_stacks, daemon=True, name="bench-sampler").start()
    url_file.write_text(ctx.settings.server.public_url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    lag.cancel()
    await runner.cleanup()


# ---------------------------------------------------------------------------- driver
def make_sessions(ctx: Any, rooms: int) -> list[str]:
    """N sessions (student + examiner, with e-mail addresses: alerts reach the outbox)."""
    from proctorbot.storage.models import ExamSession, Organization, Person, SessionMember

    now = dt.datetime.now(dt.UTC)
    ids = []
    with ctx.db.begin() as db:
        org = Organization(name="capacity benchmark")
        db.add(org)
        db.flush()
        for room in range(rooms):
            session = ExamSession(
                organization_id=org.id,
                title=f"room {room}",
                profile="university-admission",
                language="ru",
                starts_at=now - dt.timedelta(minutes=1),
                ends_at=now + dt.timedelta(hours=1),
            )
            db.add(session)
            db.flush()
            for role in ("student", "examiner"):
                person = Person(
                    organization_id=org.id,
                    role=role,
                    full_name=f"{role} {room}",
                    email=f"{role}{room}@bench.example",
                )
                db.add(person)
                db.flush()
                db.add(SessionMember(session_id=session.id, person_id=person.id, role=role))
            ids.append(session.id)
    return ids


async def fetch_stats(url: str, since: float = 0.0, profile: bool = False) -> dict[str, Any]:
    import aiohttp

    query = f"?since={since}" + ("&profile=1" if profile else "")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/bench/stats{query}", timeout=aiohttp.ClientTimeout(30)) as r:
            return await r.json()


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        await asyncio.sleep(0.5)


def outbox_alerts(ctx: Any, session_ids: list[str]) -> list[tuple[str, float]]:
    """(session, created wall time) of the alerts written to the outbox (kind ``alert``)."""
    from proctorbot.notifications.tables import OutboxMessage
    from sqlalchemy import select

    with ctx.db() as db:
        rows = db.execute(
            select(OutboxMessage.session_id, OutboxMessage.created_at).where(
                OutboxMessage.session_id.in_(session_ids), OutboxMessage.kind == "alert"
            )
        ).all()
    return sorted(
        ((s, (c if c.tzinfo else c.replace(tzinfo=dt.UTC)).timestamp()) for s, c in rows),
        key=lambda row: row[1],
    )


def alert_delays(
    injected: list[tuple[str, str, float]], alerts: list[dict[str, Any]]
) -> list[int | None]:
    """Per injected onset (session, what, wall time) the index of its first alert in
    ``alerts`` (None: never alerted): same session and kind, the finding's start within
    3 s before to 8 s after the onset."""
    used: set[int] = set()
    matched: list[int | None] = []
    for session, what, onset in injected:
        kind = ALERT_KINDS[what]
        match = next(
            (
                index
                for index, alert in enumerate(alerts)
                if index not in used
                and alert["session"] == session
                and alert["kind"] == kind
                and onset - 3.0 <= alert["onset"] <= onset + 8.0
            ),
            None,
        )
        if match is not None:
            used.add(match)
        matched.append(match)
    return matched


def outbox_delays(
    injected: list[tuple[str, str, float]],
    matched: list[int | None],
    alerts: list[dict[str, Any]],
    outbox: list[tuple[str, float]],
) -> list[float]:
    """Onset to the outbox row each matched alert wrote (the first of its session at or
    after the alert)."""
    used: set[int] = set()
    delays = []
    for (session, _, onset), index in zip(injected, matched, strict=True):
        if index is None:
            continue
        alerted = alerts[index]["at"]
        row = next(
            (
                i
                for i, (s, at) in enumerate(outbox)
                if i not in used and s == session and at >= alerted - 0.05
            ),
            None,
        )
        if row is not None:
            used.add(row)
            delays.append(round(outbox[row][1] - onset, 2))
    return delays


@dataclass
class WorkerRun:
    """One worker process of a row: its data folder (database, recordings), its sessions."""

    ctx: Any
    session_ids: list[str]
    process: subprocess.Popen
    url_file: Path
    url: str = ""


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``/bench/stats`` of several worker processes as one (threads, detector times,
    drops and profile samples added; tracks, alerts and loop lags put together)."""
    threads: collections.Counter = collections.Counter()
    samples: collections.Counter = collections.Counter()
    for part in parts:
        threads.update(part["threads"])
        samples.update(dict((where, n) for where, n in part["profile"]))
    return {
        "wall": max(part["wall"] for part in parts),
        "threads": dict(threads),
        "bots_in_rooms": sum(part["bots_in_rooms"] for part in parts),
        "tracks": {k: v for part in parts for k, v in part["tracks"].items()},
        "alerts": [alert for part in parts for alert in part["alerts"]],
        "lag": [lag for part in parts for lag in part["lag"]],
        "video": {key: sum(part["video"][key] for part in parts) for key in parts[0]["video"]},
        "audio": {key: sum(part["audio"][key] for part in parts) for key in parts[0]["audio"]},
        "decoder_dropped": sum(part["decoder_dropped"] for part in parts),
        "audio_dropped": sum(part["audio_dropped"] for part in parts),
        "profile": samples.most_common(25),
    }


async def run_rooms(
    rooms: int,
    seconds: float,
    media: Media,
    profile: bool,
    janus_mode: bool = False,
    per_room: bool = False,
) -> dict[str, Any]:
    """N rooms, ``seconds`` of media: one row of the table. One worker process holds every
    room, or (``per_room``) each room has a worker process of its own, as the bot workers
    of the scale-out run one bot per process (``proctorbot worker --processes K``); each
    such process has its own data folder. ``janus_mode``: a Janus of its own for this N
    (tests/conference/janus_fixture.py, on the veth pair the caller made), the workers
    with ``conference.mode = "janus"``, the senders publishing into the session's VideoRoom
    and the bot subscribing there."""
    from proctorbot.conference.links import session_links
    from proctorbot.config.settings import load_settings
    from proctorbot.recording.manifest import read_manifest

    from proctorbot.context import AppContext
    from tests.bot.participant import ScriptedParticipant

    track_class = packet_track_class()
    workdir = Path(tempfile.mkdtemp(prefix="proctorbot-capacity-"))
    os.environ.pop("PROCTORBOT_CONFIG", None)
    env = {
        **os.environ,
        "PROCTORBOT_CONFERENCE__ALLOW_LOOPBACK": "true",
        "PROCTORBOT_RECORDING__MAKE_COMPOSITE": "false",
        "PYANNOTE_METRICS_ENABLED": "0",
    }
    janus = None
    if janus_mode:
        from tests.conference.janus_fixture import JANUS_ICE_ADDRESS, start_janus

        janus = await asyncio.to_thread(start_janus, workdir / "janus")
        env.update(
            {
                "PROCTORBOT_CONFERENCE__MODE": "janus",
                "PROCTORBOT_JANUS__URLS": json.dumps([janus.url]),
                "PROCTORBOT_JANUS__BOT_ICE_ADDRESS": JANUS_ICE_ADDRESS,
                "PROCTORBOT_JANUS__RECORD_DIR": str(workdir / "janus-rec"),
            }
        )
    load_before = os.getloadavg()
    workers: list[WorkerRun] = []
    for index, count in enumerate([1] * rooms if per_room else [rooms]):
        folder = workdir / f"worker-{index}"
        folder.mkdir()
        worker_env = {**env, "PROCTORBOT_DATA_DIR": str(folder / "var")}
        os.environ.update(worker_env)
        ctx = AppContext.build(load_settings())
        url_file = folder / "url"
        process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(url_file),
                "--enroll",
                str(media.enroll_wav),
            ],
            env=worker_env,
            cwd=folder,
        )
        workers.append(WorkerRun(ctx, make_sessions(ctx, count), process, url_file))
    session_ids = [sid for w in workers for sid in w.session_ids]
    people: list[tuple[str, str, Any]] = []
    client: Any = None

    async def stats_of_all(since: float = 0.0, with_profile: bool = False) -> dict[str, Any]:
        parts = [await fetch_stats(w.url, since, with_profile) for w in workers]
        return merge_stats(parts)

    try:

        async def workers_up() -> bool:
            for w in workers:
                if w.process.poll() is not None:
                    raise RuntimeError(f"a worker exited ({w.process.returncode})")
            return all(w.url_file.exists() and bool(w.url_file.read_text()) for w in workers)

        await wait_for(workers_up, 300 + 60 * (len(workers) - 1), "the workers")
        for w in workers:
            w.url = w.url_file.read_text()
            w.ctx.settings.server.public_url = w.url

        async def bots_in() -> bool:
            return (await stats_of_all())["bots_in_rooms"] >= rooms

        await wait_for(bots_in, 60 + 10 * len(workers), "the bots")
        for w in workers:
            ws = w.url.replace("http://", "ws://")
            for session_id in w.session_ids:
                for link in session_links(w.ctx, session_id):
                    student = link.role == "student"
                    video = track_class(
                        "video",
                        media.student_video if student else media.examiner_video,
                        1 / FPS,
                        90000,
                    )
                    audio = track_class(
                        "audio",
                        media.student_audio if student else media.examiner_audio,
                        0.02,
                        48000,
                    )
                    if janus is None:
                        person: Any = ScriptedParticipant(f"{ws}/ws?t={link.token}")
                        person.video, person.audio = video, audio
                    else:
                        person = JanusSender(f"{ws}/ws?t={link.token}", video, audio)
                    people.append((session_id, link.role, person))
        if janus is None:
            for _, _, person in people:
                await person.join()
        else:
            from proctorbot.conference.janus.client import JanusClient
            from proctorbot.conference.janus.placement import JanusRooms

            places = {}
            for w in workers:
                placement = JanusRooms(w.ctx.db, w.ctx.settings)
                for sid in w.session_ids:
                    places[sid] = placement

            async def placed() -> bool:
                return all([await places[sid].lookup(sid) is not None for sid in session_ids])

            await wait_for(placed, 60, "the bots in their Janus rooms")
            client = JanusClient(janus.url)
            await client.__aenter__()
            for session_id, _, person in people:
                place = await places[session_id].lookup(session_id)
                await person.join(client, place.room, JANUS_ICE_ADDRESS)
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for _, _, p in people)), 60)

        def sent_now() -> dict[str, int]:
            return {
                f"{sid}/{role}/{kind}": getattr(person, kind).frames_sent
                for sid, role, person in people
                for kind in ("video", "audio")
            }

        async def all_received() -> bool:  # Janus: the bot subscribes once a feed is up
            tracks = (await stats_of_all())["tracks"]
            return all(tracks.get(key, {}).get("frames", 0) > 0 for key in sent_now())

        await wait_for(all_received, 30, "every track at the bot")
        start = await stats_of_all(with_profile=profile)
        sent_before = sent_now()

        def workers_cpu() -> float:
            return sum(cpu_seconds(w.process.pid) for w in workers)

        cpu_start, mine_start, busy_start = workers_cpu(), cpu_seconds(), machine_busy()
        janus_start = cpu_seconds(janus.process.pid) if janus is not None else 0.0
        wall_start = time.monotonic()
        loads = []
        while time.monotonic() - wall_start < seconds:
            await asyncio.sleep(min(5.0, seconds - (time.monotonic() - wall_start)))
            loads.append(os.getloadavg()[0])
        cpu_end, mine_end, busy_end = workers_cpu(), cpu_seconds(), machine_busy()
        janus_cpu = cpu_seconds(janus.process.pid) - janus_start if janus is not None else None
        window = time.monotonic() - wall_start
        for _, _, person in people:
            person.pause_media()
        await asyncio.sleep(3.0)  # the last packets reach the bot, the last alerts go out
        end = await stats_of_all(since=start["wall"])
        sent = sent_now()
        injected = [
            (sid, what, person.video.first_frame_at + at)
            if what == "extra_person"
            else (sid, what, person.audio.first_frame_at + at)
            for sid, role, person in people
            if role == "student"
            for what, at in media.onsets
            if at + 8.0 <= seconds
        ]
        for _, _, person in people:
            await person.leave()
        await asyncio.sleep(1.0)
    finally:
        for _, _, person in people:
            try:
                await person.leave()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if client is not None:
            await client.__aexit__(None, None, None)
        for w in workers:
            w.process.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.process.wait(120)
            except subprocess.TimeoutExpired:
                w.process.kill()
        if janus is not None:
            janus.stop()

    recorded: dict[str, int] = collections.Counter()
    for w in workers:
        for session_id in w.session_ids:
            manifest = read_manifest(w.ctx.settings.recordings_dir / session_id)
            for file in manifest.files:
                if file.kind in ("audio", "video"):
                    recorded[f"{session_id}/{file.role}/{file.kind}"] += file.frames
    received = {key: value["frames"] for key, value in end["tracks"].items()}
    tracks = {
        key: {"sent": sent[key], "received": received.get(key, 0), "recorded": recorded[key]}
        for key in sent
    }
    # lost: sent and never written. ``received`` is the bot's count as the senders paused,
    # before the jitter buffers gave up their last frame (written at the leave's flush).
    # Counted from the window's start (every track already at the bot): sent since then
    # minus written since then (all written minus what had been received by then).
    received_before = {key: value["frames"] for key, value in start["tracks"].items()}
    lost = {
        key: max(0, (t["sent"] - sent_before[key]) - (t["recorded"] - received_before.get(key, 0)))
        for key, t in tracks.items()
    }
    lost_at_start = sum(max(0, t["sent"] - t["recorded"]) for t in tracks.values()) - sum(
        lost.values()
    )
    short = sum(max(0, t["sent"] - t["received"]) for t in tracks.values())
    matched = alert_delays(injected, end["alerts"])
    delays = [
        None if index is None else round(end["alerts"][index]["at"] - onset, 2)
        for (_, _, onset), index in zip(injected, matched, strict=True)
    ]
    unmatched = len(end["alerts"]) - sum(1 for index in matched if index is not None)
    outbox = sorted(
        (row for w in workers for row in outbox_alerts(w.ctx, w.session_ids)),
        key=lambda row: row[1],
    )
    to_outbox = outbox_delays(injected, matched, end["alerts"], outbox)
    for w in workers:
        w.ctx.engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    got = [d for d in delays if d is not None]
    threads_start, threads_end = start["threads"], end["threads"]
    by_thread = {
        name: round((threads_end.get(name, 0.0) - threads_start.get(name, 0.0)) / window, 3)
        for name in threads_end
    }
    video_calls = end["video"]["calls"] - start["video"]["calls"]
    lag = end["lag"] or [0.0]
    busy = (busy_end[0] - busy_start[0]) / max(1.0, busy_end[1] - busy_start[1])
    row = {
        "rooms": rooms,
        "worker_processes": len(workers),
        "seconds": round(window, 1),
        "cpu_core_s_per_s": round((cpu_end - cpu_start) / window, 3),
        "cpu_per_room": round((cpu_end - cpu_start) / window / rooms, 3),
        "senders_cpu_core_s_per_s": round((mine_end - mine_start) / window, 3),
        "janus_cpu_core_s_per_s": None if janus_cpu is None else round(janus_cpu / window, 3),
        "janus_cpu_per_room": None if janus_cpu is None else round(janus_cpu / window / rooms, 3),
        "machine_busy_cores": round(busy * (os.cpu_count() or 1), 2),
        "frames_sent": sum(t["sent"] for t in tracks.values()),
        "frames_received": sum(t["received"] for t in tracks.values()),
        "frames_recorded": sum(t["recorded"] for t in tracks.values()),
        "frames_lost": sum(lost.values()),
        "frames_lost_by_track": {key: n for key, n in lost.items() if n},
        "frames_lost_before_window": max(0, lost_at_start),
        "received_short": short,
        "onsets": len(injected),
        "alerts_missed": sum(1 for d in delays if d is None),
        "alerts_unmatched": unmatched,
        "alert_delay_max_s": max(got) if got and len(got) == len(delays) else None,
        "alert_delay_median_s": round(statistics.median(got), 2) if got else None,
        "alert_delays_s": delays,
        "outbox_delay_max_s": max(to_outbox, default=None),
        "loop_lag_max_ms": round(1000 * max(lag), 1),
        "loop_lag_p99_ms": round(1000 * float(np.percentile(lag, 99)), 1),
        "video_frames_analysed_per_room_s": round(video_calls / window / rooms, 2),
        "video_ms_per_frame": round(
            1000 * (end["video"]["wall"] - start["video"]["wall"]) / max(1, video_calls), 1
        ),
        "video_cpu_ms_per_frame": round(
            1000 * (end["video"]["cpu"] - start["video"]["cpu"]) / max(1, video_calls), 1
        ),
        "audio_cpu_per_room": round(
            (end["audio"]["cpu"] - start["audio"]["cpu"]) / window / rooms, 3
        ),
        "video_decoder_dropped": end["decoder_dropped"] - start["decoder_dropped"],
        "audio_chunks_dropped": end["audio_dropped"] - start["audio_dropped"],
        "cpu_by_thread": dict(sorted(by_thread.items(), key=lambda kv: -kv[1])[:12]),
        "load_before": round(load_before[0], 2),
        "load_during": round(max(loads), 2) if loads else None,
    }
    if profile:
        row["profile"] = end["profile"]
    row["ok"] = (
        row["frames_lost"] == 0
        and row["alerts_missed"] == 0
        and row["alert_delay_max_s"] is not None
        and row["alert_delay_max_s"] <= ALERT_GOAL_S
    )
    return row


COLUMNS = (
    ("rooms", "N"),
    ("worker_processes", "procs"),
    ("cpu_core_s_per_s", "cpu"),
    ("cpu_per_room", "cpu/room"),
    ("senders_cpu_core_s_per_s", "senders"),
    ("janus_cpu_per_room", "janus/room"),
    ("frames_sent", "sent"),
    ("frames_recorded", "recorded"),
    ("frames_lost", "lost"),
    ("alerts_missed", "missed"),
    ("alert_delay_median_s", "alert p50"),
    ("alert_delay_max_s", "alert max"),
    ("loop_lag_max_ms", "lag ms"),
    ("video_frames_analysed_per_room_s", "vid fps"),
    ("video_ms_per_frame", "vid ms"),
    ("audio_cpu_per_room", "aud cpu"),
    ("load_before", "load<"),
    ("load_during", "load~"),
    ("ok", "ok"),
)


def print_table(mode: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{mode}: live-watched rooms on one worker machine ({os.cpu_count()} cores)")
    print(" ".join(f"{title:>9}" for _, title in COLUMNS))
    for row in rows:
        print(" ".join(f"{str(row.get(key)):>9}" for key, _ in COLUMNS))
    for row in rows:
        threads = ", ".join(f"{k} {v}" for k, v in row["cpu_by_thread"].items())
        print(f"  N={row['rooms']} cpu by thread (core-s/s): {threads}")
        print(
            f"  N={row['rooms']} delays {row['alert_delays_s']}, unmatched alerts "
            f"{row['alerts_unmatched']}, decoder dropped {row['video_decoder_dropped']}, "
            f"audio chunks dropped {row['audio_chunks_dropped']}"
        )
        for where, count in row.get("profile", [])[:12]:
            print(f"    {count:>6}  {where}")


def summary(mode: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    passing = [row for row in rows if row["ok"]]
    best = max(passing, key=lambda r: r["rooms"]) if passing else None
    shown = best or (min(rows, key=lambda r: r["rooms"]) if rows else {})
    return {
        "mode": mode,
        "rooms_per_worker": best["rooms"] if best else 0,
        "frames_lost": shown.get("frames_lost"),
        "alert_delay_max_s": shown.get("alert_delay_max_s"),
        "goal_met": bool(best and best["rooms"] >= 6),
        "janus_cpu_per_room": max(
            (r["janus_cpu_per_room"] for r in rows if r.get("janus_cpu_per_room") is not None),
            default=None,
        ),
        "rows": rows,
    }


async def run_mode(
    mode: str,
    counts: list[int],
    seconds: float,
    profile: bool,
    faces: tuple[str, str],
    per_room: bool = False,
) -> dict:
    veth = None
    if mode == "janus":
        from tests.conference.janus_fixture import VethPair, skip_reason

        reason = skip_reason()
        if reason:
            print(f"janus mode skipped: {reason}", file=sys.stderr)
            return summary(mode, [])
        veth = VethPair.up()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="capacity-media-") as folder:
            print(f"encoding {seconds + 20:.0f} s of media ...", file=sys.stderr)
            media = await asyncio.to_thread(make_media, Path(folder), seconds, faces)
            for rooms in counts:
                print(f"{mode}: {rooms} room(s) for {seconds:g} s ...", file=sys.stderr)
                try:
                    row = await run_rooms(rooms, seconds, media, profile, mode == "janus", per_room)
                    rows.append({"mode": mode, **row})
                except Exception as exc:  # noqa: BLE001 - the next N still runs
                    print(f"{mode}: {rooms} room(s) failed: {exc!r}", file=sys.stderr)
                    continue
                shown = {k: v for k, v in rows[-1].items() if k != "profile"}
                print(json.dumps(shown), file=sys.stderr)
    finally:
        if veth is not None:
            veth.down()
    return summary(mode, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", default="1,2,4,6,8", help="room counts to ramp through")
    parser.add_argument("--seconds", type=float, default=60.0, help="media per room count")
    parser.add_argument("--mode", choices=("one-process", "janus", "both"), default="one-process")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample where the time goes (PROCTORBOT_BENCH_STACK_DEPTH frames a sample, 3)",
    )
    parser.add_argument(
        "--faces",
        default=f"{STUDENT_FACE},{SECOND_FACE}",
        help="the student's and the second person's photo in evaldata/faces/one_face",
    )
    parser.add_argument(
        "--bot-processes",
        choices=("one", "per-room"),
        default="one",
        help="every room's bot in one worker process, or one process a room (as the "
        "scale-out's bot workers run them: proctorbot worker --processes K)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--enroll", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    if args.worker:
        asyncio.run(worker(args.worker, args.enroll))
        return
    if not SPEAKERS.is_dir() or not FACES.is_dir():
        sys.exit(f"{EVALDATA} is needed (speech and faces); it is absent")
    counts = [int(n) for n in args.rooms.split(",") if n.strip()]
    modes = ["one-process", "janus"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        faces = tuple(args.faces.split(",", 1))
        per_room = args.bot_processes == "per-room"
        result = asyncio.run(run_mode(mode, counts, args.seconds, args.profile, faces, per_room))
        result["bot_processes"] = args.bot_processes
        results.append(result)
    for result in results:
        print_table(result["mode"], result["rows"])
        print(
            f"rooms per worker ({result['mode']}): {result['rooms_per_worker']} "
            f"(goal >= 6 with 0 lost frames and alerts <= {ALERT_GOAL_S:g} s: "
            f"{'met' if result['goal_met'] else 'not met'})"
        )
    if args.json and results:
        final = {k: v for k, v in results[0].items() if k != "rows"}
        for result in results[1:]:
            final[result["mode"]] = {k: v for k, v in result.items() if k != "rows"}
        final["rows"] = [row for result in results for row in result["rows"]]
        final["load_average"] = round(os.getloadavg()[0], 2)
        print(json.dumps(final))


if __name__ == "__main__":
    main()
