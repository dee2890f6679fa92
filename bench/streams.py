"""Open sale event streams held during a phase: do they slow purchases, do they keep up?"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field


@dataclass
class StreamWatcher:
    """One sale stream on a raw connection: counts events and keeps the last one's data."""

    events: int = 0
    last: dict[str, object] = field(default_factory=dict)
    failed: str | None = None

    async def run(self, host: str, port: int, path: str, opened: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            self.failed = repr(exc)
            opened.set()
            return
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            await reader.readuntil(b"\r\n\r\n")
            opened.set()
            buffer = b""
            while chunk := await reader.read(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n\n")
                for block in complete:
                    for line in block.split(b"\n"):
                        # Chunked transfer puts size lines between events; keep data lines.
                        if line.startswith(b"data: "):
                            self.events += 1
                            self.last = json.loads(line[6:])
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.failed = repr(exc)
        finally:
            writer.close()


class Streams:
    """``count`` watchers of one sale, open for the duration of an ``async with``."""

    def __init__(self, host: str, port: int, sale_id: str, count: int) -> None:
        self.path = f"/api/v1/sales/{sale_id}/events"
        self.host, self.port, self.count = host, port, count
        self.watchers = [StreamWatcher() for _ in range(count)]
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Streams:
        opened = [asyncio.Event() for _ in self.watchers]
        for watcher, event in zip(self.watchers, opened, strict=True):
            self._tasks.append(
                asyncio.create_task(watcher.run(self.host, self.port, self.path, event))
            )
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 60)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def summary(self, final_remaining: int) -> dict[str, object]:
        got_final = sum(1 for w in self.watchers if w.last.get("remaining") == final_remaining)
        return {
            "streams": self.count,
            "failed": sum(1 for w in self.watchers if w.failed),
            "events_per_stream": sum(w.events for w in self.watchers) / max(self.count, 1),
            "with_final_value": got_final,
        }
