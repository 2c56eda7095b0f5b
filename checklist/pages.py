"""What the checklist tells the people in the call, in the run's language: the panel's
state for each page, errors, prompts to the student, live flags to the examiners, and
the prompts and notifications that follow each transition of the run."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from proctorbot.bot.peer_directory import peer_field
from proctorbot.checklist.checks import CheckThresholds
from proctorbot.checklist.detectors import AdmissionNotifier, SessionBotLike
from proctorbot.checklist.machine import ChecklistConflict
from proctorbot.checklist.records import ChecklistRun, RunOutcome, Transition
from proctorbot.checklist.views import EXAMINER_ROLES, examiner_view, student_view
from proctorbot.config.catalogue import Catalogue, MissingText

log = logging.getLogger(__name__)
AREA = "checklist"


class ChecklistPages:
    """The checklist's voice towards the pages of one session."""

    def __init__(
        self,
        bot: SessionBotLike,
        *,
        session_id: str,
        language: str,
        consent_text_version: str,
        thresholds: CheckThresholds,
        notifier: AdmissionNotifier | None = None,
    ) -> None:
        self.bot = bot
        self.session_id = session_id
        self.language = language
        self.consent_text_version = consent_text_version
        self.thresholds = thresholds
        self.notifier = notifier
        self.catalogue = Catalogue.load(language)

    def text(self, key: str, default: str | None = None, **values: object) -> str:
        try:
            return self.catalogue.text(f"{AREA}.{key}", **values)
        except MissingText:
            if default is not None:
                return default
            log.warning("checklist: no %s text for %s", self.language, key)
            return key

    async def prompt(self, key: str, text: str, to: str, level: str = "info") -> None:
        await self.bot.send_prompt(f"{AREA}.{key}", text, to=to, level=level)

    async def broadcast(
        self, run: ChecklistRun, *, student_peer: str | None, flags: list[dict[str, Any]]
    ) -> None:
        for peer_id, info in list(self.bot.peers.items()):
            await self.send_state_to(
                peer_id, peer_field(info, "role"), run, student_peer=student_peer, flags=flags
            )

    async def send_state_to(
        self,
        peer_id: str,
        role: str,
        run: ChecklistRun,
        *,
        student_peer: str | None,
        flags: list[dict[str, Any]],
    ) -> None:
        if role in EXAMINER_ROLES:
            data = examiner_view(
                run,
                student_present=student_peer is not None,
                flags=flags,
                needs=asdict(self.thresholds),
                recording_started_at=getattr(self.bot, "started_at", None),
            )
        elif role == "student" and peer_id == student_peer:
            data = student_view(run, consent_text_version=self.consent_text_version)
        else:
            return
        await self.bot.send_panel(AREA, "state", data, to=peer_id)

    async def send_error(self, peer_id: str, conflict: ChecklistConflict) -> None:
        text = self.text(f"error.{conflict.code}", default=str(conflict))
        data = {"code": conflict.code, "message": text, "detail": str(conflict)}
        await self.bot.send_panel(AREA, "error", data, to=peer_id)

    async def send_flag(self, flag: dict[str, Any]) -> None:
        for peer_id, info in list(self.bot.peers.items()):
            if peer_field(info, "role") in EXAMINER_ROLES:
                await self.bot.send_panel(AREA, "flag", flag, to=peer_id)

    async def react(
        self, transition: Transition, run: ChecklistRun, student: str | None
    ) -> RunOutcome | None:
        """Prompts to the student and notifications that follow a transition; the run's
        outcome when the transition ends the run."""
        action = transition.action
        # The run's end is a transition without a step, named after the outcome.
        outcome = (
            RunOutcome(action) if transition.step is None and action in set(RunOutcome) else None
        )
        if action in {"begin", "retry"} and transition.step is not None and student:
            if action == "retry" and transition.detail.get("failure"):
                failure = self.text(f"auto.{transition.detail['failure']}")
                await self.prompt(
                    f"retry.{transition.step}",
                    self.text("prompt.retry", reason=failure),
                    student,
                    "warning",
                )
            await self.prompt(
                f"step.{transition.step}",
                self.text(f"step.{transition.step}.instruction"),
                student,
            )
        elif action == "failed" and student:
            await self.prompt("wait", self.text("prompt.wait_examiner"), student, "warning")
        elif action == "non_biometric_mode" and student:
            await self.prompt("non_biometric", self.text("prompt.non_biometric"), student)
        elif outcome is RunOutcome.ADMITTED:
            if student:
                await self.prompt("admitted", self.text("prompt.admitted"), student)
            if self.notifier is not None:
                await self._notify(self.notifier.admitted(self.session_id, run.student_name))
        elif outcome is RunOutcome.NOT_ADMITTED:
            if student:
                await self.prompt(
                    "not_admitted", self.text("prompt.not_admitted"), student, "warning"
                )
            if self.notifier is not None:
                reason = f"{transition.detail.get('step')}: {transition.detail.get('reason', '')}"
                await self._notify(
                    self.notifier.not_admitted(self.session_id, run.student_name, reason)
                )
        elif outcome is RunOutcome.CONSENT_REFUSED:
            if student:
                await self.prompt(
                    "consent_refused", self.text("prompt.consent_refused"), student, "warning"
                )
            if self.notifier is not None:
                await self._notify(self.notifier.consent_refused(self.session_id, run.student_name))
        return outcome

    async def _notify(self, call: Any) -> None:
        try:
            await call
        except Exception:  # the outbox must not stop the checklist
            log.exception("checklist %s: notifying the organizer failed", self.session_id)
