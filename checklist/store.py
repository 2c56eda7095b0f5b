"""Keeps a checklist run in two places: the database and ``checklist.json``.

Every save writes the session folder's ``checklist.json`` atomically (a temporary file,
fsync, rename) and then, in one database transaction, the run's row and every
transition the database does not hold yet. A database write that fails is caught up
by the next save, and ``load`` takes whichever copy has the higher revision, so a
crash between the two writes loses nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from proctorbot.checklist.records import ChecklistRun
from proctorbot.checklist.tables import ChecklistRunRow, ChecklistTransitionRow
from proctorbot.storage.db_retry import retry_when_locked
from proctorbot.storage.session_folder import CHECKLIST_FILE
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker


class ChecklistStore:
    def __init__(self, db: sessionmaker, session_dir: Path) -> None:
        self.db = db
        self.session_dir = Path(session_dir)

    @property
    def file_path(self) -> Path:
        return self.session_dir / CHECKLIST_FILE

    def save(self, run: ChecklistRun) -> None:
        """Blocking (call it in a thread): the file at once, then the database, which is
        waited for while it is locked (a transition is never lost)."""
        write_json_atomically(self.file_path, run.to_json())
        retry_when_locked(self._save_to_db, run, what=f"checklist of {run.session_id}")

    def load(self, session_id: str) -> ChecklistRun | None:
        """The newest stored copy of the run, or None when it never started."""
        from_db = self._load_from_db(session_id)
        from_file = self._load_from_file(session_id)
        candidates = [run for run in (from_db, from_file) if run is not None]
        if not candidates:
            return None
        return max(candidates, key=lambda run: run.revision)

    def _save_to_db(self, run: ChecklistRun) -> None:
        current = run.current
        with self.db.begin() as db:
            row = db.get(ChecklistRunRow, run.session_id)
            if row is None:
                row = ChecklistRunRow(session_id=run.session_id)
                db.add(row)
            elif row.revision > run.revision:
                raise RuntimeError(
                    f"checklist of {run.session_id}: refusing to replace revision "
                    f"{row.revision} with the older {run.revision}"
                )
            row.profile = run.profile
            row.mode = str(run.mode)
            row.outcome = str(run.outcome)
            row.current_step = str(current.kind) if current else None
            row.revision = run.revision
            row.consent_given = run.consent.given if run.consent else None
            row.consent_at = _parse_time(run.consent.at) if run.consent else None
            row.consent_text_version = run.consent.text_version if run.consent else None
            row.state_json = json.dumps(run.to_json(), ensure_ascii=False)
            row.updated_at = dt.datetime.now(dt.UTC)
            stored = db.scalar(
                select(func.max(ChecklistTransitionRow.seq)).where(
                    ChecklistTransitionRow.session_id == run.session_id
                )
            )
            for transition in run.transitions[(stored or 0) :]:
                db.add(
                    ChecklistTransitionRow(
                        session_id=run.session_id,
                        seq=transition.seq,
                        at=_parse_time(transition.at),
                        step=str(transition.step) if transition.step else None,
                        action=transition.action,
                        actor_role=transition.actor.role,
                        actor_name=transition.actor.name,
                        from_status=str(transition.from_status) if transition.from_status else None,
                        to_status=str(transition.to_status) if transition.to_status else None,
                        detail_json=json.dumps(transition.detail, ensure_ascii=False),
                    )
                )

    def _load_from_db(self, session_id: str) -> ChecklistRun | None:
        with self.db() as db:
            row = db.get(ChecklistRunRow, session_id)
            if row is None:
                return None
            return ChecklistRun.from_json(json.loads(row.state_json))

    def _load_from_file(self, session_id: str) -> ChecklistRun | None:
        try:
            data = json.loads(self.file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        run = ChecklistRun.from_json(data)
        if run.session_id != session_id:
            raise ValueError(
                f"{self.file_path} belongs to session {run.session_id}, not {session_id}"
            )
        return run


def write_json_atomically(path: Path, data: object) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
