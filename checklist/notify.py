"""Tells the organizers about the checklist's outcome through notifications/' outbox."""

from __future__ import annotations

import asyncio
import logging

from proctorbot.checklist.session_facts import SessionFacts
from proctorbot.storage.db_retry import retry_when_locked
from proctorbot.storage.models import Person

from proctorbot.context import AppContext

log = logging.getLogger(__name__)


class OutboxNotifier:
    """Implements ``AdmissionNotifier``: one outbox row per organizer, deduplicated."""

    def __init__(self, ctx: AppContext, facts: SessionFacts) -> None:
        self.ctx = ctx
        self.facts = facts

    async def not_admitted(self, session_id: str, student_name: str, reason: str) -> None:
        payload = {"student": student_name, "title": self.facts.title, "details": reason}
        await asyncio.to_thread(self._enqueue, "identity_failed", payload, "not_admitted")

    async def consent_refused(self, session_id: str, student_name: str) -> None:
        payload = {"student": student_name, "title": self.facts.title}
        await asyncio.to_thread(
            self._enqueue, "checklist.notify.consent_refused", payload, "consent_refused"
        )

    async def admitted(self, session_id: str, student_name: str) -> None:
        payload = {"student": student_name, "title": self.facts.title}
        await asyncio.to_thread(self._enqueue, "identity_confirmed", payload, "admitted")

    def _enqueue(self, kind: str, payload: dict[str, object], what: str) -> None:
        if not self.facts.organizer_ids:
            log.warning("session %s: no organizer to tell (%s)", self.facts.session_id, what)
        retry_when_locked(self._write, kind, payload, what, what=f"checklist notice {what}")

    def _write(self, kind: str, payload: dict[str, object], what: str) -> None:
        from proctorbot.notifications.outbox import enqueue

        with self.ctx.db.begin() as db:
            for person_id in self.facts.organizer_ids:
                person = db.get(Person, person_id)
                if person is None:
                    continue
                enqueue(
                    db,
                    person,
                    kind,
                    payload,
                    session_id=self.facts.session_id,
                    dedupe_key=f"checklist:{self.facts.session_id}:{what}:{person_id}",
                )
