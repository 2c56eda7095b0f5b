"""What the composition root builds once and hands to every area: no globals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from proctorbot.conference.tokens import TokenSigner
from proctorbot.config.settings import Settings
from proctorbot.storage.db import make_engine, make_sessionmaker
from proctorbot.storage.migrate import upgrade


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    db: sessionmaker
    signer: TokenSigner

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
            signer=TokenSigner(settings.server.secret_key.get_secret_value().encode()),
        )
