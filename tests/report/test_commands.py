"""`proctorbot organizer add` and `proctorbot retention run` from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from proctorbot.cli import cli


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    return tmp_path


def test_organizer_add_then_sign_in_hash(in_tmp) -> None:
    from proctorbot.config.settings import load_settings
    from proctorbot.report.passwords import verify_password
    from proctorbot.storage.models import Person
    from sqlalchemy import select

    from proctorbot.context import AppContext

    args = [
        "organizer",
        "add",
        "--organization",
        "КубГАУ",
        "--name",
        "Ольга",
        "--email",
        "Olga@Example.org",
    ]
    result = CliRunner().invoke(cli, args, input="long password\nlong password\n")
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, args, input="other password\nother password\n")
    assert again.exit_code == 0 and "organization created" not in again.output
    short = CliRunner().invoke(cli, args, input="short\nshort\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    ctx = AppContext.build(load_settings())
    try:
        with ctx.db() as db:
            [person] = db.scalars(select(Person)).all()  # reset, not duplicated
            assert person.role == "organizer"
            assert verify_password("other password", person.password_hash)
    finally:
        ctx.engine.dispose()


def test_retention_run_with_a_given_clock(in_tmp) -> None:
    result = CliRunner().invoke(cli, ["retention", "run", "--now", "2030-01-01T00:00"])
    assert result.exit_code == 0, result.output
    assert "0 files deleted" in result.output
