"""Tens of thousands of sale streams from a few light processes: the viewers of a sale.

One process may open at most 20,000 files here (a hard limit), and one source address has
~28,000 ephemeral ports towards one server port, so the streams are spread over worker
processes (``python -m bench.stream_load worker``), each with fewer than ``PER_WORKER``
connections and a loopback source address of its own (127.x.y.z: all of 127/8 is loopback).
A worker holds each stream with a bare ``asyncio.Protocol`` (no reader task, no buffer beyond
the current event) that keeps only the last ``remaining`` it read and when it changed.

Workers talk JSON lines: after opening they print ``{"opened": …}``; each ``report`` line on
stdin gets a report back; end of stdin closes the streams and ends the worker. Another role,
``updates``, follows the sale-updates channel in Redis and says when ``remaining`` last
changed: the start of "last change → seen by every stream".

The operator's shell needs ``ulimit -n`` above the per-process count (default 20,000 here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import resource
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import uvloop

# Connections per worker: under the 20,000 open files a process may have, with room to spare.
PER_WORKER = 12_500
# Connection attempts in flight per worker: more only overflows the server's accept queue.
OPENING_AT_ONCE = 200

_REMAINING = re.compile(rb'"remaining":\s*(-?\d+)')
_LAST_CHUNK = b"\r\n0\r\n\r\n"  # the end of a chunked body


class SaleStream(asyncio.Protocol):
    """One sale stream: the response head, then events; keeps the latest ``remaining``."""

    __slots__ = (
        "buffer",
        "changed_at",
        "closing",
        "ended",
        "events",
        "head",
        "remaining",
        "transport",
    )

    def __init__(self, head: asyncio.Future[int]) -> None:
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[int] | None = head  # the status, once the head is read
        self.buffer = b""
        self.events = 0
        self.remaining: int | None = None
        self.changed_at = 0.0  # wall-clock time ``remaining`` last changed
        self.ended: str | None = None  # why the stream ended before it was closed by us
        self.closing = False  # we close it: not an end to count

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data
        if self.head is not None:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = data
                return
            if not self.head.done():
                self.head.set_result(int(data[9:12]))
            self.head = None
            data = data[end + 4 :]
        # Events end with a blank line; the chunked framing between them does not matter.
        *complete, self.buffer = data.split(b"\n\n")
        for block in complete:
            found = _REMAINING.search(block)
            if found is None:
                continue  # a heartbeat
            self.events += 1
            value = int(found.group(1))
            if value != self.remaining:
                self.remaining, self.changed_at = value, time.time()
        if self.buffer.endswith(_LAST_CHUNK):  # the response ended; the connection may stay
            self.ended = "ended by the server"
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended is None and not self.closing:
            self.ended = repr(exc) if exc is not None else "closed by the server"
        if self.head is not None and not self.head.done():
            self.head.set_exception(ConnectionError(self.ended))


# Linux: bind an address now, pick the port at connect() from the whole 4-tuple. A plain
# bind((address, 0)) searches for a port free on its own, which grows slow (and in system
# time) as thousands of one address's ports are taken.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def _socket_from(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class Worker:
    """The streams of one worker process."""

    host: str
    port: int
    path: str
    source: str
    streams: list[SaleStream] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    closing: bool = False

    async def open_one(self, gate: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        async with gate:
            head: asyncio.Future[int] = loop.create_future()
            try:
                sock = _socket_from(self.source)
                try:
                    await loop.sock_connect(sock, (self.host, self.port))
                except OSError:
                    sock.close()
                    raise
                transport, stream = await loop.create_connection(
                    lambda: SaleStream(head), sock=sock
                )
                transport.write(
                    f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode()
                )
                status = await asyncio.wait_for(head, 60)
            except (OSError, TimeoutError) as exc:
                self.errors[type(exc).__name__] += 1
                return
            if status != 200:
                self.errors[f"HTTP {status}"] += 1
                transport.close()
                return
            self.streams.append(stream)

    async def open(self, count: int) -> None:
        gate = asyncio.Semaphore(OPENING_AT_ONCE)
        await asyncio.gather(*(self.open_one(gate) for _ in range(count)))

    def report(self, final: int | None) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        ended = Counter(s.ended for s in self.streams if s.ended is not None)
        finals = [
            s.changed_at
            for s in self.streams
            if final is not None and s.remaining == final and s.ended is None
        ]
        return {
            "source": self.source,
            "opened": len(self.streams),
            "holding": len(self.streams) - sum(ended.values()),  # open, not ended
            "failed": sum(self.errors.values()) + sum(ended.values()),
            "errors": dict(self.errors) | {f"ended: {k}": v for k, v in ended.items()},
            "events": sum(s.events for s in self.streams),
            "with_final": len(finals),
            # When each stream holding the final value saw it change to it (wall clock).
            "seen_final_at": [round(t, 4) for t in finals],
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }

    def close(self) -> None:
        for stream in self.streams:
            stream.closing = True
            if stream.transport is not None:
                stream.transport.abort()


async def _lines() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def run_worker(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # each stream is an open file: up to what the operator allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    worker = Worker(args.host, args.port, args.path, args.source)
    commands = await _lines()
    started = time.monotonic()
    await worker.open(args.count)
    _say(worker.report(None) | {"open_seconds": round(time.monotonic() - started, 2)})
    while line := await commands.readline():
        request = json.loads(line)
        _say(worker.report(request.get("final")))
    worker.close()


async def run_updates(args: argparse.Namespace) -> None:
    """When the sale's ``remaining`` last changed, as its sale-updates messages say."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(args.redis_url, decode_responses=True, protocol=2)
    last: dict[str, Any] = {"remaining": None, "last_change": None, "messages": 0}
    async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(args.channel)
        commands = await _lines()
        _say({"ready": True})

        async def follow() -> None:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                update = json.loads(message["data"])
                if update.get("sale_id") != args.sale:
                    continue
                last["messages"] += 1
                if update["remaining"] != last["remaining"]:
                    last["remaining"], last["last_change"] = update["remaining"], time.time()

        following = asyncio.create_task(follow())
        while await commands.readline():
            _say(last)
        following.cancel()
    await client.aclose()


# The bench's side: start the workers, collect their reports.


def sources(workers: int) -> list[str]:
    """Loopback source addresses, fresh for each crowd: the last crowd's closed connections
    may still hold their ports (TIME_WAIT) on the addresses it used."""
    second = random.randrange(1, 255)
    return [f"127.{second}.{1 + i // 250}.{2 + i % 250}" for i in range(workers)]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.stream_load",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**24,
    )


async def _ask(process: asyncio.subprocess.Process, request: dict[str, Any]) -> dict[str, Any]:
    assert process.stdin is not None
    process.stdin.write(json.dumps(request).encode() + b"\n")
    await process.stdin.drain()
    return await _answer(process)


async def _answer(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError(f"stream load process {process.pid} ended without answering")
    answer: dict[str, Any] = json.loads(line)
    return answer


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


class Viewers:
    """``count`` streams of one sale from worker processes, held for an ``async with``; and a
    follower of the sale's updates, for when ``remaining`` last changed."""

    def __init__(
        self, host: str, port: int, sale_id: str, count: int, *, redis_url: str, channel: str
    ) -> None:
        self.host, self.port, self.sale_id, self.count = host, port, sale_id, count
        self.redis_url, self.channel = redis_url, channel
        self.workers: list[asyncio.subprocess.Process] = []
        self.updates: asyncio.subprocess.Process | None = None
        self.opened: list[dict[str, Any]] = []

    def shares(self) -> list[int]:
        """The streams of each worker: as even as can be, none above PER_WORKER."""
        workers = max(1, math.ceil(self.count / PER_WORKER))
        return [self.count // workers + (i < self.count % workers) for i in range(workers)]

    async def __aenter__(self) -> Viewers:
        try:
            self.updates = await _spawn(
                *("updates", "--redis-url", self.redis_url, "--channel", self.channel),
                *("--sale", self.sale_id),
            )
            await asyncio.wait_for(_answer(self.updates), 60)
            path = f"/api/v1/sales/{self.sale_id}/events"
            shares = self.shares()
            for share, source in zip(shares, sources(len(shares)), strict=True):
                self.workers.append(
                    await _spawn(
                        *("worker", "--host", self.host, "--port", str(self.port)),
                        *("--path", path, "--source", source, "--count", str(share)),
                    )
                )
            self.opened = await asyncio.wait_for(
                asyncio.gather(*(_answer(w) for w in self.workers)), 600
            )
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        ending = [*self.workers, *([self.updates] if self.updates else [])]
        await asyncio.gather(*(_end(p) for p in ending))

    async def summary(self, final_remaining: int) -> dict[str, Any]:
        """What every stream saw, and how long after the last change each saw the final value."""
        assert self.updates is not None
        reports = await asyncio.gather(*(_ask(w, {"final": final_remaining}) for w in self.workers))
        updates = await _ask(self.updates, {})
        return summarise(self.count, self.opened, reports, updates, final_remaining)


def summarise(
    count: int,
    opened: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    updates: dict[str, Any],
    final_remaining: int,
) -> dict[str, Any]:
    """The figures of a crowd of viewers from its workers' reports (pure: unit-tested)."""
    from bench.measure import percentile

    seen = [t for r in reports for t in r["seen_final_at"]]
    last_change = updates.get("last_change")
    lags = [max(0.0, t - last_change) for t in seen] if last_change is not None else []
    with_final = sum(r["with_final"] for r in reports)
    # A stream without the final value never saw it: it is the slowest, not left out.
    lags += [math.inf] * (count - with_final)
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update(r["errors"])
    return {
        "streams": count,
        "opened": sum(r["opened"] for r in opened),
        # Whatever is not open now failed: did not open, or ended before we closed it.
        "failed": count - sum(r["holding"] for r in reports),
        "errors": dict(errors),
        "with_final_value": with_final,
        "final_remaining": final_remaining,
        "updates_published": updates.get("messages", 0),
        "events_per_stream": sum(r["events"] for r in reports) / max(count, 1),
        "open_seconds": max((r.get("open_seconds", 0.0) for r in opened), default=0.0),
        "fanout_p50_s": percentile(lags, 50),
        "fanout_p99_s": percentile(lags, 99),
        "fanout_max_s": max(lags, default=math.nan),
        "workers": len(reports),
        "worker_cpu_seconds": [r["cpu_seconds"] for r in reports],
        "worker_max_rss_mb": [r["max_rss_mb"] for r in reports],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.stream_load", description=__doc__)
    roles = p.add_subparsers(dest="role", required=True)
    worker = roles.add_parser("worker", help="hold --count sale streams")
    worker.add_argument("--host", default="127.0.0.1")
    worker.add_argument("--port", type=int, required=True)
    worker.add_argument("--path", required=True)
    worker.add_argument("--source", default="127.0.0.2", help="local address to connect from")
    worker.add_argument("--count", type=int, required=True)
    updates = roles.add_parser("updates", help="when a sale's remaining last changed")
    updates.add_argument("--redis-url", required=True)
    updates.add_argument("--channel", required=True)
    updates.add_argument("--sale", required=True)
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    uvloop.run(run_worker(arguments) if arguments.role == "worker" else run_updates(arguments))
