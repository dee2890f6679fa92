"""Drive a crowd: a burst (N requests at concurrency C) or a rate (R per second for T s)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.client import Connection


@dataclass(frozen=True)
class Attempt:
    index: int  # position of its request in the list given to the driver
    started: float  # wall clock: when the request was sent (burst) or due (rate)
    answered: float
    status: int  # 0: no answer (connection failed)
    ticket_id: str | None
    code: str | None


def _parse(index: int, started: float, answered: float, status: int, body: bytes) -> Attempt:
    ticket_id = code = None
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        if isinstance(payload, dict):
            ticket_id = payload.get("ticket_id")
            error = payload.get("error")
            code = error.get("code") if isinstance(error, dict) else payload.get("status")
    return Attempt(index, started, answered, status, ticket_id, code)


class Progress:
    """One status line on stderr, refreshed twice a second."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.statuses: Counter[int] = Counter()
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._tty = sys.stderr.isatty()

    def add(self, status: int) -> None:
        self.done += 1
        self.statuses[status] += 1

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        statuses = " ".join(f"{s}:{n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.label:<22} [{bar}] {self.done}/{self.total} "
            f"{self.done / elapsed:,.0f}/s  {statuses}"
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.5 if self._tty else 2.0)
            print(
                ("\r" if self._tty else "") + self._line(),
                end="" if self._tty else "\n",
                file=sys.stderr,
                flush=True,
            )

    def __enter__(self) -> Progress:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
        print(("\r" if self._tty else "") + self._line(), file=sys.stderr, flush=True)


async def burst(
    host: str, port: int, requests: Sequence[bytes], *, concurrency: int, label: str
) -> list[Attempt]:
    """Send every request as fast as ``concurrency`` connections allow."""
    return await _drive(host, port, requests, concurrency=concurrency, label=label, due_at=None)


async def at_rate(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    rate: float,
    concurrency: int,
    label: str,
) -> list[Attempt]:
    """Send request i at start + i/rate; latency counts from when it was due, not sent."""
    start = time.time() + 0.1
    return await _drive(
        host,
        port,
        requests,
        concurrency=concurrency,
        label=label,
        due_at=lambda index: start + index / rate,
    )


async def _drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    label: str,
    due_at: Callable[[int], float] | None,
) -> list[Attempt]:
    """Send the requests over ``concurrency`` connections, each as soon as one is free, or
    not before ``due_at(index)``, from which its latency then counts."""
    attempts: list[Attempt] = []
    position = 0

    async def worker() -> None:
        nonlocal position
        connection = Connection(host, port)
        try:
            while position < len(requests):
                index = position
                position += 1
                if due_at is None:
                    started = time.time()
                else:
                    started = due_at(index)
                    delay = started - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                try:
                    reply = await connection.send(requests[index])
                except (OSError, asyncio.IncompleteReadError):
                    attempts.append(
                        Attempt(index, started, time.time(), 0, None, "connection_error")
                    )
                    progress.add(0)
                    continue
                attempts.append(_parse(index, started, time.time(), reply.status, reply.body))
                progress.add(reply.status)
        finally:
            connection.close()

    with Progress(label, len(requests)) as progress:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return attempts
