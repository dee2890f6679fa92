"""A minimal HTTP/1.1 keep-alive client: just enough to load-test our own servers.

aiohttp's client spends more CPU per request than the gateway does to answer it, and on a
two-core machine the load generator shares the CPU with the system under test. This client
sends pre-encoded requests over persistent connections and reads fixed-length replies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


def encode_request(
    method: str, path: str, *, host: str, token: str | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Reply:
    status: int
    body: bytes


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    async def send(self, request: bytes) -> Reply:
        """One request and its reply; reconnects once if the server closed the connection."""
        for attempt in (1, 2):
            reader, writer = await self._open()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"content-length:")
        length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0
        body = await reader.readexactly(length) if length else b""
        if b"connection: close" in lower:
            self.close()
        return Reply(status, body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
