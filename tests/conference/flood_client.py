"""A signaling client that floods its socket, run as its own process by the security tests.

``python -m tests.conference.flood_client WS_URL COUNT`` sends COUNT messages as fast as
it can (every other one of an unknown type, the rest valid ``media-state``), reads what
the server answers, and prints one JSON line: how many it sent, the errors it got back
and the close code, if the server closed the socket.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

GOOD = json.dumps({"type": "media-state", "mic": True, "cam": True})
BAD = json.dumps({"type": "dance", "steps": 1})


async def flood(url: str, count: int) -> dict[str, object]:
    errors = 0
    close_code: int | None = None
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        welcome = json.loads((await ws.receive(timeout=10)).data)

        async def read() -> None:
            nonlocal errors, close_code
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "error":
                    errors += 1
            close_code = ws.close_code

        reader = asyncio.create_task(read())
        started = time.monotonic()
        sent = 0
        try:
            for n in range(count):
                await ws.send_str(BAD if n % 2 else GOOD)
                sent += 1
        except (ConnectionError, RuntimeError):
            pass  # the server closed the socket under us
        took = time.monotonic() - started
        try:
            await asyncio.wait_for(asyncio.shield(reader), timeout=3.0)
        except TimeoutError:
            await ws.close()
            await reader
    return {
        "peer_id": welcome.get("peer_id"),
        "sent": sent,
        "seconds": round(took, 3),
        "errors": errors,
        "close_code": close_code,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], int(sys.argv[2])))), flush=True)
