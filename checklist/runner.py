"""Runs one session's checklist inside the bot: one command queue, one state machine.

Everything that can change the run — a click in a page (``panel`` messages of area
"checklist"), an automatic check finishing, a step's timer, the student leaving or
coming back — becomes a command on one queue. A single task applies them in order,
persists each change (database + ``checklist.json``) before telling anyone, then
tells every page the new state. Two examiners clicking at once are thus two commands
in a row; the second finds the step decided and gets an error message back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from proctorbot.bot.peer_directory import peer_field
from proctorbot.bot.session_bus import ExamDecided, PeerJoined, PeerLeft
from proctorbot.checklist.checks import STEP_CHECKS, CheckContext, CheckThresholds, StepCheck
from proctorbot.checklist.detectors import AdmissionNotifier, ChecklistDetectors, SessionBotLike
from proctorbot.checklist.feed import StudentFeed
from proctorbot.checklist.flags import FlagFeed
from proctorbot.checklist.machine import (
    ChecklistConflict,
    ChecklistMachine,
    Clock,
    new_run,
    utc_now,
)
from proctorbot.checklist.pages import AREA, ChecklistPages
from proctorbot.checklist.plan import ChecklistPlan
from proctorbot.checklist.records import (
    BOT,
    Actor,
    AutoResult,
    ChecklistRun,
    ExamMode,
    RunOutcome,
    StepKind,
    StepStatus,
    Transition,
    exam_state_of,
)
from proctorbot.checklist.store import ChecklistStore

log = logging.getLogger(__name__)
# Steps whose automatic check analyses face or voice: skipped without consent.
BIOMETRIC_STEPS = frozenset(
    {StepKind.ROOM_SCAN, StepKind.DESK, StepKind.ID_DOCUMENT, StepKind.NAME_ALOUD}
)


@dataclass(frozen=True)
class PanelCommand:
    peer_id: str
    action: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AutoDone:
    kind: StepKind
    attempt: int
    result: AutoResult


@dataclass(frozen=True)
class StepTimedOut:
    kind: StepKind
    attempt: int


@dataclass(frozen=True)
class PeersChanged:
    pass


Command = PanelCommand | AutoDone | StepTimedOut | PeersChanged


class ChecklistRunner:
    def __init__(
        self,
        bot: SessionBotLike,
        *,
        session_id: str,
        plan: ChecklistPlan,
        store: ChecklistStore,
        student_name: str,
        language: str,
        profile_name: str,
        student_person_id: str = "",
        detectors: ChecklistDetectors | None = None,
        notifier: AdmissionNotifier | None = None,
        thresholds: CheckThresholds | None = None,
        checks: dict[StepKind, StepCheck] | None = None,
        clock: Clock = utc_now,
        analysis_limit_s: float = 300.0,
        trial: bool = False,
    ) -> None:
        self.bot = bot
        # A trial call (checklist/trial.py): its end is no verdict on an exam.
        self.trial = trial
        self.session_id = session_id
        self.plan = plan
        self.store = store
        self.student_name = student_name
        # The signaling server does not tell peers' person ids; the roster does.
        self.student_person_id = student_person_id
        self.language = language
        self.profile_name = profile_name
        self.detectors = detectors or ChecklistDetectors()
        self.notifier = notifier
        self.thresholds = thresholds or CheckThresholds()
        self.checks = STEP_CHECKS if checks is None else checks
        self.clock = clock
        # A detector that hangs must not hold the step forever: unavailable after this.
        self.analysis_limit_s = analysis_limit_s
        self.pages = ChecklistPages(
            bot,
            session_id=session_id,
            language=language,
            consent_text_version=plan.consent_text_version,
            thresholds=self.thresholds,
            notifier=notifier,
        )
        self.machine: ChecklistMachine | None = None
        self.finished = asyncio.Event()
        self._queue: asyncio.Queue[Command] = asyncio.Queue()
        self._student_peer: str | None = None
        self._feed: StudentFeed | None = None
        self._known_viewers: set[str] = set()
        self._attempt_key: tuple[StepKind, int] | None = None
        self._check_task: asyncio.Task[None] | None = None
        self._timer_task: asyncio.Task[None] | None = None
        self._flags = FlagFeed()
        self._flag_task: asyncio.Task[None] | None = None

    @property
    def run_state(self) -> ChecklistRun:
        if self.machine is None:
            raise RuntimeError("the checklist has not started")
        return self.machine.run

    async def wait_finished(self) -> ChecklistRun:
        await self.finished.wait()
        return self.run_state

    # --- the main loop -----------------------------------------------------------------

    async def run(self) -> None:
        """Run the checklist, then keep the panel (state, live flags) until cancelled."""
        self.bot.on_panel(AREA, self._on_panel)
        run = await asyncio.to_thread(self.store.load, self.session_id)
        if run is None:
            run = new_run(
                self.session_id,
                plan=self.plan,
                profile=self.profile_name,
                student_name=self.student_name,
                language=self.language,
                now=self.clock,
            )
        self.machine = ChecklistMachine(run, self.plan, now=self.clock)
        # A run saved mid-attempt (the bot restarted): that attempt is not counted.
        await self._commit(self.machine.interrupt(BOT))
        watcher = asyncio.create_task(
            self._watch_peers(), name=f"checklist-peers-{self.session_id}"
        )
        self._flag_task = asyncio.create_task(
            self._flags.follow(self.bot.bus), name=f"checklist-flags-{self.session_id}"
        )
        try:
            await self._set_student(self._find_student())
            await self._commit([])
            while True:
                command = await self._queue.get()
                try:
                    await self._apply(command)
                except ChecklistConflict as conflict:
                    log.info("checklist %s: %s (%s)", self.session_id, conflict, conflict.code)
                    if isinstance(command, PanelCommand):
                        await self.pages.send_error(command.peer_id, conflict)
        finally:
            watcher.cancel()
            self._stop_attempt()
            await self._set_student(None)
            if self._flag_task is not None:
                self._flag_task.cancel()

    async def _on_panel(self, from_peer: str, action: str, data: dict[str, Any]) -> None:
        payload = dict(data) if isinstance(data, dict) else {}  # pages are not trusted
        await self._queue.put(PanelCommand(from_peer, str(action), payload))

    async def _apply(self, command: Command) -> None:
        machine = self.machine
        assert machine is not None
        if isinstance(command, PanelCommand):
            await self._apply_panel(command)
        elif isinstance(command, AutoDone):
            made = machine.record_auto(command.kind, command.attempt, command.result)
            if self._timer_task is not None:  # the student's part is over; the rest is ours
                self._timer_task.cancel()
            await self._commit(made)
        elif isinstance(command, StepTimedOut):
            await self._commit(machine.timeout(command.kind, command.attempt))
        elif isinstance(command, PeersChanged):
            await self._peers_changed()

    async def _apply_panel(self, command: PanelCommand) -> None:
        machine = self.machine
        assert machine is not None
        actor = self._actor(command.peer_id)
        action, data = command.action, command.data
        if action == "sync":
            await self.pages.send_state_to(
                command.peer_id,
                actor.role,
                self.run_state,
                student_peer=self._student_peer,
                flags=self._flags.flags,
            )
            return
        if action not in {"consent", "ack", "confirm", "override", "retry", "reject"}:
            raise ChecklistConflict("not_allowed", f"unknown checklist action {action!r}")
        try:
            kind = StepKind(str(data.get("step", "")))
        except ValueError:
            raise ChecklistConflict("out_of_order", f"unknown step {data.get('step')!r}") from None
        reason = str(data.get("reason", ""))
        if action in {"consent", "ack"}:
            if actor.role != "student":
                raise ChecklistConflict("student_only", "only the student answers this")
            if action == "consent":
                made = machine.answer_consent(
                    data.get("given") is True, actor, self.plan.consent_text_version
                )
            else:
                made = machine.acknowledge(kind, actor)
        elif action == "confirm":
            made = machine.confirm(kind, actor)
        elif action == "override":
            made = machine.override(kind, actor, reason)
        elif action == "retry":
            made = machine.retry(kind, actor)
        else:
            made = machine.reject(kind, actor, reason)
        await self._commit(made)

    # --- after every change ------------------------------------------------------------

    async def _commit(self, made: list[Transition]) -> None:
        """Persist, tell the pages, react, and start whatever comes next."""
        machine = self.machine
        assert machine is not None
        if made:
            await asyncio.to_thread(self.store.save, machine.run)
        for transition in made:
            await self._react(transition)
        started = self._begin_if_ready()
        if started:
            await asyncio.to_thread(self.store.save, machine.run)
            for transition in started:
                await self._react(transition)
        self._sync_attempt()
        await self._broadcast()
        if machine.run.finished and not self.finished.is_set():
            if self._feed is not None:  # the checklist needs no more frames
                await self._feed.stop()
                self._feed = None
            self.finished.set()
            # the verdict, for the live watch (the session bus remembers it)
            state = "trial" if self.trial else exam_state_of(machine.run)
            self.bot.bus.publish(ExamDecided(state))

    def _begin_if_ready(self) -> list[Transition]:
        machine = self.machine
        assert machine is not None
        step = machine.run.current
        if step is None or step.status is not StepStatus.PENDING or self._student_peer is None:
            return []
        return machine.begin()

    def _sync_attempt(self) -> None:
        """Exactly one attempt's check and timer run: the current running one, if any."""
        machine = self.machine
        assert machine is not None
        step = machine.run.current
        wanted = None
        if step is not None and step.status is StepStatus.RUNNING and self._student_peer:
            wanted = (step.kind, step.attempts)
        if wanted == self._attempt_key:
            return
        self._stop_attempt()
        self._attempt_key = wanted
        if wanted is None or step is None:
            return
        kind, attempt = wanted
        self._timer_task = asyncio.create_task(self._timer(kind, attempt, step.time_limit_s))
        if step.auto is not None:
            return
        if machine.run.mode is ExamMode.NON_BIOMETRIC and kind in BIOMETRIC_STEPS:
            self._queue.put_nowait(AutoDone(kind, attempt, AutoResult.unavailable("non_biometric")))
            return
        check = self.checks.get(kind)
        if check is None or self._feed is None:
            return  # a student action (consent, instruction): buttons on the page
        context = CheckContext(
            bot=self.bot,
            peer_id=self._student_peer or "",
            feed=self._feed,
            kind=kind,
            attempt=attempt,
            student_name=machine.run.student_name,
            language=machine.run.language,
            capture_s=self.plan.capture_seconds.get(kind, 5.0),
            detectors=self.detectors,
            thresholds=self.thresholds,
            on_captured=lambda: self._captured(kind, attempt),
            progress=lambda data: self._progress(kind, attempt, data),
            time_limit_s=step.time_limit_s,
        )
        self._check_task = asyncio.create_task(self._check(check, context))

    async def _progress(self, kind: StepKind, attempt: int, data: dict[str, Any]) -> None:
        """How far a capture has got (the room scan's coverage), to everyone's panel."""
        if self._attempt_key != (kind, attempt):
            return
        payload = {"step": str(kind), "attempt": attempt, **data}
        try:
            await self.bot.send_panel(AREA, "progress", payload, to=None)
        except Exception:  # noqa: BLE001 - progress is a courtesy, never a failure
            log.warning("checklist %s: progress not sent", self.session_id)

    def _captured(self, kind: StepKind, attempt: int) -> None:
        """The student's part of the attempt is over: its time limit no longer runs."""
        if self._attempt_key == (kind, attempt) and self._timer_task is not None:
            self._timer_task.cancel()

    def _stop_attempt(self) -> None:
        for task in (self._check_task, self._timer_task):
            if task is not None:
                task.cancel()
        self._check_task = self._timer_task = None
        self._attempt_key = None

    async def _check(self, check: StepCheck, context: CheckContext) -> None:
        try:
            async with asyncio.timeout(context.capture_s + self.analysis_limit_s):
                result = await check(context)
        except TimeoutError:
            log.error("checklist %s: check of %s took too long", self.session_id, context.kind)
            result = AutoResult.unavailable("check_error", error="the analysis took too long")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a detector crashed: the examiner decides instead
            log.exception("checklist %s: check of %s failed", self.session_id, context.kind)
            result = AutoResult.unavailable("check_error", error=f"{type(exc).__name__}: {exc}")
        await self._queue.put(AutoDone(context.kind, context.attempt, result))

    async def _timer(self, kind: StepKind, attempt: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._queue.put(StepTimedOut(kind, attempt))

    async def _react(self, transition: Transition) -> None:
        outcome = await self.pages.react(transition, self.run_state, self._student_peer)
        if outcome is RunOutcome.ADMITTED:
            self._flags.send = self.pages.send_flag  # live flags to the examiners from now on

    async def _broadcast(self) -> None:
        await self.pages.broadcast(
            self.run_state, student_peer=self._student_peer, flags=self._flags.flags
        )

    # --- people ------------------------------------------------------------------------

    def _actor(self, peer_id: str) -> Actor:
        info = self.bot.peers.get(peer_id)
        if info is None:
            raise ChecklistConflict("not_allowed", f"peer {peer_id} is not in the room")
        role = peer_field(info, "role")
        person_id = peer_field(info, "person_id")
        if role == "student" and not person_id:
            person_id = self.student_person_id
        return Actor(role=role, name=peer_field(info, "name"), peer_id=peer_id, person_id=person_id)

    def _find_student(self) -> str | None:
        students = [  # the student's main device (a phone beside it is another source)
            pid
            for pid, info in self.bot.peers.items()
            if peer_field(info, "role") == "student" and peer_field(info, "device") in ("", "main")
        ]
        return students[-1] if students else None  # a reloaded page is the newest

    async def _watch_peers(self) -> None:
        """Someone joined or left (the session bus): the checklist takes a look."""
        async with self.bot.bus.subscribe(PeerJoined, PeerLeft) as changes:
            async for _ in changes:
                await self._queue.put(PeersChanged())

    async def _peers_changed(self) -> None:
        machine = self.machine
        assert machine is not None
        student = self._find_student()
        made: list[Transition] = []
        if student != self._student_peer:
            if self._student_peer is not None and not machine.run.finished:
                old = self._student_peer
                made = machine.interrupt(
                    Actor(role="student", name=machine.run.student_name, peer_id=old)
                )
                self._stop_attempt()
            await self._set_student(student)
        await self._commit(made)

    async def _set_student(self, peer_id: str | None) -> None:
        """Follow the student's current connection (a reload is a new peer)."""
        if self._feed is not None and self._feed.peer_id != peer_id:
            await self._feed.stop()
            self._feed = None
        self._student_peer = peer_id
        if peer_id is not None and self._feed is None and not self.run_state.finished:
            self._feed = StudentFeed(self.bot, peer_id)
            self._feed.start()
