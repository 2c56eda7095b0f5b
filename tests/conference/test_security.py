"""Security probes against the conference, each once a hole (issue 14, items 1, 3 and 6).

Each test is an attack that worked on the code before the fix: the server started on
0.0.0.0 with the published default key, a signed ``"e": "inf"`` never expired, pages
had no CSP and named their server's version, a flood of one socket stalled `healthz`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from proctorbot.conference.admission import Refusal, admit
from proctorbot.conference.tokens import TokenError, TokenSigner
from proctorbot.config.settings import load_settings

from proctorbot.app import Areas
from proctorbot.context import AppContext
from tests.browser_helpers import serve_app, signaling_client

REPO = Path(__file__).resolve().parents[2]
PUBLISHED_KEY = b"change-me-proctorbot-demo-secret"  # the default in config/settings.py


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`proctorbot serve ARGS` in its own data folder: (exit code, stdout + stderr).

    A server that starts is a failed probe: it is stopped and reported with code -1.
    """
    environment = {**os.environ, "PROCTORBOT_DATA_DIR": str(tmp_path / "var"), **(env or {})}
    environment.pop("PROCTORBOT_CONFIG", None)
    command = [sys.executable, "-m", "proctorbot", "serve", *args]
    server = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "serving on" in line:
            server.terminate()
            server.wait(timeout=30)
            return -1, "".join(lines)
    return server.wait(timeout=30), "".join(lines)


# --- 1. the secret key ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--host", "0.0.0.0"),
        ("--host", "127.0.0.1"),  # + a public https address (env below)
    ],
    ids=["all-interfaces", "public-https-url"],
)
def test_security_default_key_refused_at_start_up(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {}
    if args[1] == "127.0.0.1":
        env["PROCTORBOT_SERVER__PUBLIC_URL"] = "https://exam.example.org"
    code, output = run_serve(tmp_path, *args, "--port", str(free_port()), env=env)
    assert code not in (0, -1), f"the server started with the published key:\n{output}"
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert "server.secret_key" in errors[0] and "PROCTORBOT_SERVER__SECRET_KEY" in errors[0]
    assert "Traceback" not in output


def test_security_forged_link_with_published_key_is_refused(app_context) -> None:
    """On loopback the server runs on a key of its own, not the one everybody can read."""
    from proctorbot.storage.demo import seed_demo

    day = seed_demo(app_context.db, profile=app_context.settings.default_profile)
    forged = TokenSigner(PUBLISHED_KEY).sign(
        purpose="call", session_id=day.session_ids[0], role="bot", person_id="bot", ttl_seconds=600
    )
    with pytest.raises(Refusal) as refused:
        admit(app_context, forged, roles=("bot",))
    assert refused.value.reason == "forged"


def test_security_generated_key_is_private_and_kept_across_restarts(settings) -> None:
    first = AppContext.build(settings)
    token = first.signer.sign(
        purpose="call", session_id="s", role="student", person_id="p", ttl_seconds=600
    )
    first.engine.dispose()
    key_files = [p for p in settings.data_dir.iterdir() if "secret" in p.name]
    assert len(key_files) == 1, list(settings.data_dir.iterdir())
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    again = AppContext.build(load_settings(data_dir=settings.data_dir))
    try:
        assert again.signer.verify(token, purpose="call").person_id == "p"
        assert again.signer.secret != PUBLISHED_KEY
    finally:
        again.engine.dispose()


def _signed_with_expiry(signer: TokenSigner, expiry: object) -> str:
    payload = {"p": "call", "s": "s1", "r": "bot", "u": "bot", "e": expiry, "n": "x"}
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(signer._mac(body)).rstrip(b"=").decode()
    return f"{body}.{mac}"


@pytest.mark.parametrize("expiry", ["inf", "Infinity", "nan", float("inf"), True, "2e9"])
def test_security_expiry_must_be_a_finite_number(expiry: object) -> None:
    signer = TokenSigner(b"k" * 32)
    with pytest.raises(TokenError) as refused:
        signer.verify(_signed_with_expiry(signer, expiry), purpose="call")
    assert refused.value.reason == "malformed"


# --- 3. headers on every response ----------------------------------------------------

AREAS = Areas(checklist=True, dashboard=True)


def assert_hardened(response: aiohttp.ClientResponse, what: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (what, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (what, csp)
    assert directives.get("object-src") == ["'none'"], (what, csp)
    assert "'unsafe-inline'" not in directives.get("default-src", []), (what, csp)
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    server = headers.get("Server", "")
    assert "aiohttp" not in server and "Python" not in server, (what, server)


async def test_security_headers_on_every_response(app_context) -> None:
    async with serve_app(app_context, areas=AREAS) as server:
        session = server.session_id
        paths = [
            "/",
            "/healthz",
            f"/call?t={server.token('student')}",
            "/call?t=forged.link",
            "/static/call.js",
            "/static/nothing-here.js",
            "/dashboard/login",
            "/dashboard/days",
            "/d/forged.link/report/report.html",
            f"/checklist/evidence/{session}/evidence/x.jpg?t={server.token('examiner')}",
            "/checklist/texts.json",
            "/no/such/page",
        ]
        async with aiohttp.ClientSession() as http:
            for path in paths:
                async with http.get(server.url + path, allow_redirects=False) as response:
                    assert_hardened(response, path)
            async with http.post(server.url + "/healthz") as response:  # 405
                assert_hardened(response, "POST /healthz")


def test_security_no_inline_script_in_page_templates() -> None:
    """CSP `script-src 'self'` runs no inline script: every page keeps its code in .js files."""
    import re

    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    handler_attribute = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    offenders = []
    for folder in ("conference/templates", "report/templates", "checklist"):
        for path in sorted((REPO / folder).rglob("*.html")):
            text = path.read_text(encoding="utf-8")
            if inline_script.search(text) or handler_attribute.search(text):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


# --- 6. a flooded socket ---------------------------------------------------------------


async def test_security_flooded_socket_keeps_healthz_fast(
    running_server, caplog: pytest.LogCaptureFixture
) -> None:
    """20,000 messages as fast as one client can send: `healthz` stays under 200 ms, the
    log gets a few summary lines (not one per message), and the flooder is cut off."""
    caplog.set_level(logging.INFO, logger="proctorbot.conference")
    # As `proctorbot serve` logs: formatted, to a stream (the cost a flood used to multiply).
    stream = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(stream)
    try:
        report, latencies, relayed = await _flood(running_server, 20000)
    finally:
        logging.getLogger().removeHandler(stream)
        stream.stream.close()
    warnings = [
        r for r in caplog.records if r.name.startswith("proctorbot.conference") and r.levelno >= 30
    ]
    assert report["sent"] > 1000, report
    assert max(latencies) < 0.2, f"healthz took {max(latencies) * 1000:.0f} ms; {report}"
    assert len(warnings) <= 5, [r.getMessage() for r in warnings[:10]]
    assert report["close_code"] == 4429, report
    assert relayed <= 300, relayed  # the budget (burst 200) bounds what reaches the others


async def _flood(server, count: int) -> tuple[dict, list[float], int]:
    """Flood the student's socket from another process while timing `healthz` here;
    (the flooder's report, healthz latencies, media-states the examiner got)."""
    async with signaling_client(server, "examiner") as examiner:
        flooder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.conference.flood_client",
            server.ws_url(server.token("student")),
            str(count),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        latencies: list[float] = []
        async with aiohttp.ClientSession() as http:
            while flooder.returncode is None:
                started = time.monotonic()
                async with http.get(server.url + "/healthz") as response:
                    assert response.status == 200
                latencies.append(time.monotonic() - started)
                try:
                    await asyncio.wait_for(flooder.wait(), timeout=0.02)
                except TimeoutError:
                    pass
        report = json.loads((await flooder.stdout.read()).decode())
        relayed = sum(1 for m in examiner.inbox if m["type"] == "media-state")
        while True:
            try:
                await examiner.receive("media-state", timeout=0.2)
            except TimeoutError:
                break
            relayed += 1
    return report, latencies, relayed


async def test_security_bad_messages_are_counted_and_logged_as_a_summary(
    running_server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proctorbot.conference")
    async with signaling_client(running_server, "student") as student:
        for _ in range(50):
            await student.ws.send_str("{not json")
        for _ in range(50):
            assert (await student.receive("error"))["code"] == "bad_json"
    await asyncio.sleep(0.2)  # the socket's summary is written when it closes
    lines = [r.getMessage() for r in caplog.records if "bad" in r.getMessage()]
    assert 1 <= len(lines) <= 3, lines
    assert any("50" in line and "bad_json" in line for line in lines), lines


def test_security_message_budget_refills_drops_and_summarizes() -> None:
    from proctorbot.conference.message_budget import MessageBudget

    now = [0.0]
    budget = MessageBudget(burst=3, refill_per_s=2.0, close_after_dropped=4, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    assert budget.first_drop_of_interval() and not budget.first_drop_of_interval()
    now[0] = 1.0  # two more refilled
    assert [budget.take() for _ in range(3)] == [True, True, False]
    assert not budget.exhausted
    budget.note_bad("bad_json")
    budget.note_bad("bad_json")
    budget.note_bad("unknown_type")
    now[0] = 10.0
    assert budget.summary_due()
    assert budget.take_summary() == (
        "3 dropped over budget; 3 bad (bad_json: 2, unknown_type: 1) in 10 s"
    )
    assert budget.take_summary() is None and not budget.summary_due()
    assert [budget.take() for _ in range(4)] == [True, True, True, False]  # full again
    assert budget.exhausted  # 4 dropped in all: the socket is closed
