"""A round-robin TCP balancer in front of the web nodes (HTTP and WebSocket alike).

Each new connection goes to the next node that accepts it; a node that refuses (killed,
restarting) is passed over, so a browser that reconnects after its node died lands on a
live one. It stands in for "any load balancer" (nginx, HAProxy, a cloud's) when the
scale-out set is tried on one machine: the nodes keep no state a balancer must know.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
CHUNK = 65536


@dataclass
class TcpBalancer:
    """``await balancer.start(host, port)``; ``backends`` are ``(host, port)`` pairs."""

    backends: list[tuple[str, int]]
    connections: int = 0
    refused: int = 0
    _server: asyncio.Server | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        start = next(self._turn)
        for offset in range(len(self.backends)):
            host, port = self.backends[(start + offset) % len(self.backends)]
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                self.refused += 1
                log.info("web node %s:%d refused a connection: the next one takes it", host, port)
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
