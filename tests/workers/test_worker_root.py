"""The two composition roots build the same bot; cluster mode's web node enqueues."""

from __future__ import annotations

import pytest

from proctorbot.app import Areas, build_app, session_plugins


async def test_the_worker_s_bot_runs_the_plug_ins_of_serve(app_context) -> None:
    from proctorbot.bot.service import BOT_MANAGER

    app = await build_app(app_context)
    served = [type(p).__name__ for p in app[BOT_MANAGER].plugins]
    # proctorbot/worker.py builds its bots' plug-ins with this very call
    worker = session_plugins(app_context, live_watch=True, checklist=True).in_order()
    assert [type(p).__name__ for p in worker] == served
    assert served == ["PageFocusPlugin", "LiveWatchPlugin", "ChecklistPlugin"]


async def test_a_cluster_web_node_enqueues_instead_of_running_bots(app_context) -> None:
    pytest.importorskip("dramatiq")
    from proctorbot.bot.service import BOT_MANAGER
    from proctorbot.scheduling.active_lock import NeedsPostgres
    from proctorbot.scheduling.service import JOB_HOOKS

    app_context.settings.cluster.redis_url = "redis://127.0.0.1:9/0"  # not connected to yet
    app = await build_app(app_context, areas=Areas(bot=True, handover=True, checklist=True))
    assert BOT_MANAGER not in app, "no bot in a web node of the cluster"
    with pytest.raises(NeedsPostgres, match="PostgreSQL"):
        await build_app(app_context, areas=Areas(scheduling=True))  # SQLite: no shared lock
    app_context.settings.scheduling.jobstore_url = "postgresql://nobody@/nowhere"
    app = await build_app(app_context, areas=Areas(bot=True, scheduling=True))
    hooks = app[JOB_HOOKS]
    assert hooks.bot_join.__name__ == "enqueue_bot"  # through the orphan watch: remembered
    assert hooks.post_session.__name__ == "enqueue_analysis"


def test_a_bot_outlives_no_slot(settings) -> None:
    from proctorbot.workers.actors import bot_time_limit_ms

    s = settings.scheduling
    slot_ms = (
        s.instruction_minutes + s.technical_minutes + s.exam_minutes + s.buffer_minutes
    ) * 60_000
    limit = bot_time_limit_ms(settings)
    assert limit > slot_ms + settings.bot.max_overrun_minutes * 60_000 > 10 * 60_000
