"""One web node of a test cluster: the conference alone, settings from the environment.

``python -m tests.conference.cluster_node PORT`` (PROCTORBOT_DATABASE_URL, the [cluster]
settings and the secret key in the environment; the database already migrated).
"""

from __future__ import annotations

import logging
import sys

from aiohttp import web


def main() -> None:
    from proctorbot.config.settings import load_settings

    from proctorbot.app import Areas, build_app
    from proctorbot.context import AppContext

    logging.basicConfig(level=logging.INFO, format="%(asctime)s node %(name)s: %(message)s")
    port = int(sys.argv[1])
    settings = load_settings()
    settings.server.port = port
    settings.server.public_url = f"http://127.0.0.1:{port}"
    settings.conference.allow_loopback = True
    ctx = AppContext.build(settings, migrate=False)
    web.run_app(
        build_app(ctx, areas=Areas()),
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
        shutdown_timeout=2.0,
    )


if __name__ == "__main__":
    main()
