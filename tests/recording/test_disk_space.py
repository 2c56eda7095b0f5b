"""The server's watch on free disk space: one outbox message per organizer per episode."""

from __future__ import annotations

import pytest
from proctorbot.notifications.events import disk_low
from proctorbot.notifications.tables import OutboxMessage
from proctorbot.recording import disk_space
from proctorbot.recording.disk_space import DiskSpaceWatch
from proctorbot.storage.demo import seed_demo
from sqlalchemy import select


async def test_low_free_space_alerts_each_organizer_once_per_episode(
    app_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(app_context.db, profile="university-admission", language="en")
    app_context.settings.recording.min_free_mb = 100
    free = {"mb": 5000.0}
    monkeypatch.setattr(disk_space, "free_megabytes", lambda path: free["mb"])
    watch = DiskSpaceWatch(app_context, notice=disk_low)

    def alerts() -> list[OutboxMessage]:
        with app_context.db() as db:
            return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "disk_low")))

    await watch.check()
    assert alerts() == []
    free["mb"] = 60.0
    await watch.check()
    await watch.check()  # still low: the same episode, no second message
    [first] = alerts()
    assert "60 МБ" in first.text and "100 МБ" in first.text  # the organizer reads Russian
    free["mb"] = 105.0  # above the limit but within the margin: the episode goes on
    await watch.check()
    free["mb"] = 50.0
    await watch.check()
    assert len(alerts()) == 1
    free["mb"] = 500.0  # freed
    await watch.check()
    free["mb"] = 40.0  # a new episode
    await watch.check()
    assert len(alerts()) == 2
