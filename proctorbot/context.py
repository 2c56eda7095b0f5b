"""What the composition root builds once and hands to every area: no globals.

``models`` is the process's detection models holder: built empty here, each model
loaded on its first use (proctorbot/process_models.py), shared by every area.
``CONTEXT`` is the key of the ``AppContext`` in the aiohttp application: handlers of
any area read ``request.app[CONTEXT]`` (areas import this module, never the root).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from proctorbot.conference.tokens import TokenSigner
from proctorbot.config.settings import Settings
from proctorbot.process_models import ProcessModels
from proctorbot.secret_key import resolve_secret_key
from proctorbot.storage.db import make_engine, make_sessionmaker
from proctorbot.storage.migrate import upgrade


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    db: sessionmaker
    signer: TokenSigner
    models: ProcessModels = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.models = ProcessModels(self.settings)  # nothing loads until first asked for

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            upgrade(url)
        engine = make_engine(url)
        return cls(
            settings=settings,
            engine=engine,
            db=make_sessionmaker(engine),
            signer=TokenSigner(resolve_secret_key(settings)),
        )


# The context every handler and area reads: `request.app[CONTEXT]` (set by `build_app`).
CONTEXT = web.AppKey("proctorbot.context", AppContext)
