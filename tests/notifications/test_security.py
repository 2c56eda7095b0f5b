"""No secret in the log (issue 14, item 5): the real CLI at `-v` and `-vv` against a fake
Bot API. Before the fix httpx wrote every Bot API URL, bot token included, at INFO
(about two lines a second while the bot polls).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.notifications.fake_bot_api import FakeBotApi

SERVER_KEY = "server-key-for-the-log-probe-4f1c9e7a2b"
CALL_TOKEN = "eyJwIjoiY2FsbCIsInMiOiJzMSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
async def test_security_no_bot_token_in_the_log(
    fake_api: FakeBotApi, tmp_path: Path, verbosity: str
) -> None:
    env = {
        **os.environ,
        "PROCTORBOT_DATA_DIR": str(tmp_path / "var"),
        "PROCTORBOT_TELEGRAM__TOKEN": fake_api.token,
        "PROCTORBOT_TELEGRAM__BASE_URL": fake_api.base_url,
        "PROCTORBOT_TELEGRAM__BASE_FILE_URL": fake_api.base_file_url,
        "PROCTORBOT_SERVER__SECRET_KEY": SERVER_KEY,
    }
    env.pop("PROCTORBOT_CONFIG", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proctorbot",
            verbosity,
            "serve",
            "--port",
            str(free_port()),
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and server.returncode is None:
                polls = [c for c in fake_api.calls if c.method == "getUpdates"]
                if len(polls) >= 6:
                    break
                await asyncio.sleep(0.2)
        finally:
            server.terminate()
            await server.wait()
    log = log_path.read_text(errors="replace")
    assert len([c for c in fake_api.calls if c.method == "getUpdates"]) >= 6, log[-3000:]
    assert "@proctor_test_bot" in log  # the bot did run: the log speaks of it
    token_number, token_secret = fake_api.token.split(":")
    assert token_secret not in log, [line for line in log.splitlines() if token_secret in line][:3]
    assert SERVER_KEY not in log
    if verbosity == "-v":  # the per-request lines are quiet at -v, whoever wrote them
        requests = [line for line in log.splitlines() if "getUpdates" in line]
        assert len(requests) <= 1, requests[:5]


def test_security_redactor_masks_messages_arguments_and_tracebacks() -> None:
    import logging

    from proctorbot.log_redaction import SecretRedactor

    token = "7000000001:AAFakeTokenFakeTokenFakeTokenFake12"
    redactor = SecretRedactor([SERVER_KEY])
    records = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(redactor)
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("POST https://api.telegram.org/bot%s/getUpdates", token)
        logger.warning("key %s, password %s", SERVER_KEY, "short")
        logger.warning("no answer from ws://h/ws?t=%s", CALL_TOKEN)
        try:
            raise RuntimeError(f"cannot reach https://api.telegram.org/file/bot{token}/x.jpg")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    assert token not in text and SERVER_KEY not in text and CALL_TOKEN not in text
    assert "ws://h/ws?t=***" in text
    assert "/bot***/getUpdates" in text and "key ***, password short" in text
    assert "RuntimeError: cannot reach https://api.telegram.org/file/bot***/x.jpg" in text
