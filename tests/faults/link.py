"""A TCP relay between one service and a server, which a test can stall and cut.

Pointing only the order service's REDIS_URL through it lets a scenario freeze that service
right after its Postgres commit (the Redis writes that follow never get an answer) and kill
it there: the batch is committed but not acked, the exact case redelivery must handle.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class StallableLink:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._parts = parts
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.holding = 0  # requests held by stall(): each client waits for a reply

    @property
    def url(self) -> str:
        """The upstream URL with the relay's address in place of the server's."""
        return urlunsplit(self._parts._replace(netloc=f"127.0.0.1:{self.port}"))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stall(self) -> None:
        """Hold what the client sends until resume(); replies already on their way still
        arrive, so whatever is held is a request the server has not executed."""
        self._flowing.clear()

    def is_holding(self) -> bool:
        """True while a client waits on a request held by stall()."""
        return self.holding > 0

    def resume(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        """Drop every open connection and what it held (nothing stale reaches the server)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        self.resume()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, holds=True), self._pump(up_reader, writer)
            )
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, holds: bool = False
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if holds and not self._flowing.is_set():
                    self.holding += 1
                    try:
                        await self._flowing.wait()
                    finally:
                        self.holding -= 1
                if writer.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
