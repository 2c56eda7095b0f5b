"""`proctorbot telegram invite|invites|check` and `proctorbot outbox`."""

from pathlib import Path

from click.testing import CliRunner

from proctorbot.cli import cli
from tests.scheduling.test_roster import ROSTER, write


def invoke(settings, *args: str, **env: str):
    environment = {"PROCTORBOT_DATA_DIR": str(settings.data_dir), **env}
    return CliRunner().invoke(cli, list(args), env=environment)


async def test_invites_check_and_outbox(settings, fake_api, tmp_path: Path) -> None:
    import asyncio

    env = {
        "PROCTORBOT_TELEGRAM__TOKEN": fake_api.token,
        "PROCTORBOT_TELEGRAM__BASE_URL": fake_api.base_url,
    }

    def run(*args: str, **extra: str):
        return invoke(settings, *args, **{**env, **extra})

    roster = write(tmp_path, "r.csv", ROSTER)
    assert (await asyncio.to_thread(run, "import-roster", str(roster), "-o", "Uni")).exit_code == 0
    check = await asyncio.to_thread(run, "telegram", "check")
    assert check.exit_code == 0 and "@proctor_test_bot" in check.output
    bad = await asyncio.to_thread(run, "telegram", "check", PROCTORBOT_TELEGRAM__TOKEN="1:bad")
    assert bad.exit_code == 1 and "rejected the bot token" in bad.output

    one = await asyncio.to_thread(run, "telegram", "invite", "ivanov", "-o", "Uni")
    assert one.exit_code == 0 and "/start " in one.output
    assert "https://t.me/proctor_test_bot?start=" in one.output
    nobody = await asyncio.to_thread(run, "telegram", "invite", "nobody", "-o", "Uni")
    assert nobody.exit_code == 1 and "nobody with id or e-mail 'nobody'" in nobody.output

    # students without a chat (Mary; Пётр has a chat id in the roster) get codes by e-mail
    many = await asyncio.to_thread(
        run, "telegram", "invites", "-o", "Uni", "--send", "--csv", str(tmp_path / "codes.csv")
    )
    assert many.exit_code == 0, many.output
    codes = (tmp_path / "codes.csv").read_text().splitlines()
    assert len(codes) == 2 and codes[1].startswith("Mary Smith,smith@mail.example,")
    outbox = await asyncio.to_thread(run, "outbox")
    assert "email     pending        1" in outbox.output
