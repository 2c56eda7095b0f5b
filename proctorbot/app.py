"""The composition root: one aiohttp application built from the settings.

`build_app` mounts the conference (call page + signaling), then lets every area that
runs inside the server plug itself in through `async def setup(app, ctx)` in its
service module (docs/architecture.md, "Plugging into proctorbot serve"). A module
that does not exist yet is skipped; one that fails to import fails loudly.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from proctorbot.context import CONTEXT, AppContext

log = logging.getLogger(__name__)

# Threads of the default executor: enough that requests waiting on a locked database
# (15 s at most each) never starve the rest.
BLOCKING_THREADS = 32

AREA_SETUP_MODULES = (
    "proctorbot.bot.service",
    "proctorbot.handover.service",  # live watch + post-session hand-over (after bot.service)
    "proctorbot.scheduling.service",
    "proctorbot.notifications.service",
    "proctorbot.checklist.service",
    "proctorbot.report.dashboard",
    "proctorbot.recording.service",  # free space of the recordings disk
)


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


async def build_app(
    ctx: AppContext, *, areas: tuple[str, ...] = AREA_SETUP_MODULES
) -> web.Application:
    """The whole server: conference first, then each area's `setup` in a fixed order."""
    from proctorbot.conference.server import setup as setup_conference

    # Database calls and other blocking work run in the loop's default executor
    # (asyncio.to_thread); while a locked database keeps some of them waiting, the
    # others (decoders, detectors, the next request) must still find a thread.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="blocking")
    )
    app = web.Application()
    app[CONTEXT] = ctx
    await setup_conference(app, ctx)
    for name in areas:
        if not module_exists(name):
            log.debug("area %s absent, skipped", name)
            continue
        module = importlib.import_module(name)
        await module.setup(app, ctx)
        log.info("area %s plugged in", name)
    return app
