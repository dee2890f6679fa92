"""Tens of thousands of sale streams from a few light processes: the viewers of a sale.

One process may open at most 20,000 files here (a hard limit), and one source address has
~28,000 ephemeral ports towards one server port, so the streams are spread over worker
processes (``python -m bench.stream_load worker``), each with fewer than ``PER_WORKER``
connections and a loopback source address of its own (127.x.y.z: all of 127/8 is loopback).
A worker holds each stream with a bare socket, read in batches (Poller; no task, no buffer
beyond the current event) that keeps only the last ``remaining`` it read, when the
kernel received it and when the worker read it.

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
import select
import socket
import struct
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


class SaleStream:
    """One sale stream: the response head, then events; keeps the latest ``remaining``, when
    it reached this machine (the kernel's receive time of the bytes) and when this worker
    read it. The two differ by how late the worker's loop came round to the socket: with
    12,500 streams in a process on a busy machine, that is the load's own lateness, not the
    gateway's, so both are reported."""

    __slots__ = (
        "arrived_at",
        "buffer",
        "closing",
        "ended",
        "events",
        "head",
        "poller",
        "read_at",
        "remaining",
        "sock",
    )

    def __init__(self, head: asyncio.Future[int]) -> None:
        self.sock: socket.socket | None = None
        self.poller: Poller | None = None  # what reads this stream's socket
        self.head: asyncio.Future[int] | None = head  # the status, once the head is read
        self.buffer = b""
        self.events = 0
        self.remaining: int | None = None
        self.arrived_at = 0.0  # wall clock: the kernel received the bytes of that value
        self.read_at = 0.0  # wall clock: this worker read them
        self.ended: str | None = None  # why the stream ended before it was closed by us
        self.closing = False  # we close it: not an end to count

    def readable(self) -> None:
        """The socket has data (an event-loop reader callback): one read with its time."""
        if self.sock is None:
            return
        try:
            data, ancillary, _flags, _address = self.sock.recvmsg(_READ_BYTES, _ANCILLARY_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.connection_lost(exc)
            return
        if not data:
            self.connection_lost(None)
            return
        self.data_received(data, _kernel_time(ancillary))

    def data_received(self, data: bytes, arrived: float | None = None) -> None:
        read = time.time()
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
                self.remaining, self.read_at = value, read
                self.arrived_at = arrived if arrived is not None else read
        if self.buffer.endswith(_LAST_CHUNK):  # the response ended; the connection may stay
            self.ended = "ended by the server"
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended is None and not self.closing:
            self.ended = repr(exc) if exc is not None else "closed by the server"
        if self.head is not None and not self.head.done():
            self.head.set_exception(ConnectionError(self.ended))
        self.close()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            if self.poller is not None:
                self.poller.forget(sock)
            sock.close()


class Poller:
    """Reads a worker's ready streams every POLL_SECONDS, not as each write arrives.

    The workers stand for viewers on machines of their own, but here they share two cores
    with the gateways. Woken by each write (a reader per socket on the event loop), a worker
    took the core from the gateway writing to it once per socket: a round of 0.19 s of the
    gateway's CPU took 2.7-3.3 s of wall clock with three gateways and four workers. Read in
    batches, a worker wakes on its own timer; the kernel's receive time of each read still
    says when the value reached it."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._streams: dict[int, SaleStream] = {}

    def watch(self, stream: SaleStream) -> None:
        assert stream.sock is not None
        stream.poller = self
        self._streams[stream.sock.fileno()] = stream
        self._epoll.register(stream.sock.fileno(), select.EPOLLIN)

    def forget(self, sock: socket.socket) -> None:
        if self._streams.pop(sock.fileno(), None) is not None:
            self._epoll.unregister(sock.fileno())

    def read_ready(self) -> None:
        """One read of each stream with data (the rest of it, if any, in the next batch)."""
        for fd, _ in self._epoll.poll(0, max(1, len(self._streams))):
            stream = self._streams.get(fd)
            if stream is not None:
                stream.readable()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            self.read_ready()


# How often a worker reads its streams: later reads, the same arrival times (see Poller).
POLL_SECONDS = 0.02
# What one read takes at most, and room for one kernel timestamp (struct timespec).
_READ_BYTES = 65_536
_ANCILLARY_BYTES = socket.CMSG_SPACE(16)
# SO_TIMESTAMPNS: each read carries the kernel's receive time of its last bytes (on
# loopback, taken as the gateway's write hands them over). Linux's value where Python has
# no name for it.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = cast(tuple[int, int], struct.unpack("qq", data[:16]))
            return seconds + nanoseconds / 1e9
    return None


# Linux: bind an address now, pick the port at connect() from the whole 4-tuple. A plain
# bind((address, 0)) searches for a port free on its own, which grows slow (and in system
# time) as thousands of one address's ports are taken.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def _socket_from(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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
    poller: Poller = field(default_factory=Poller)

    async def open_one(self, gate: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        async with gate:
            head: asyncio.Future[int] = loop.create_future()
            stream = SaleStream(head)
            try:
                sock = _socket_from(self.source)
                try:
                    await loop.sock_connect(sock, (self.host, self.port))
                    # A few bytes on a fresh connection: the socket buffer takes them whole.
                    sock.send(
                        f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                        "Accept: text/event-stream\r\n\r\n".encode()
                    )
                except OSError:
                    sock.close()
                    raise
                # A bare socket read by the poller, not a transport: only recvmsg gives the
                # kernel's receive time of what is read.
                stream.sock = sock
                self.poller.watch(stream)
                status = await asyncio.wait_for(head, 60)
            except (OSError, TimeoutError) as exc:
                stream.close()
                self.errors[type(exc).__name__] += 1
                return
            if status != 200:
                self.errors[f"HTTP {status}"] += 1
                stream.close()
                return
            self.streams.append(stream)

    async def open(self, count: int) -> None:
        gate = asyncio.Semaphore(OPENING_AT_ONCE)
        await asyncio.gather(*(self.open_one(gate) for _ in range(count)))

    def report(self, final: int | None) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        ended = Counter(s.ended for s in self.streams if s.ended is not None)
        finals = [
            s
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
            # When each stream holding the final value received it (the kernel's time), and
            # when this worker read it (wall clock both).
            "seen_final_at": [round(s.arrived_at, 4) for s in finals],
            "read_final_at": [round(s.read_at, 4) for s in finals],
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }

    def close(self) -> None:
        for stream in self.streams:
            stream.closing = True
            stream.close()


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
    reading = asyncio.create_task(worker.poller.run())
    await worker.open(args.count)
    _say(worker.report(None) | {"open_seconds": round(time.monotonic() - started, 2)})
    while line := await commands.readline():
        request = json.loads(line)
        _say(worker.report(request.get("final")))
    worker.close()
    reading.cancel()


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

    last_change = updates.get("last_change")
    with_final = sum(r["with_final"] for r in reports)

    def lags(key: str) -> list[float]:
        seen = [t for r in reports for t in r.get(key, [])]
        found = [max(0.0, t - last_change) for t in seen] if last_change is not None else []
        # A stream without the final value never saw it: it is the slowest, not left out.
        return found + [math.inf] * (count - len(found))

    # Fan-out ends when the final value reached the viewer's machine (the kernel's receive
    # time); the read by the load worker, later by however long its loop took to come round
    # to that socket, is reported beside it.
    arrived, read = lags("seen_final_at"), lags("read_final_at")
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
        "last_change_at": last_change,  # wall clock, as the sale-updates follower saw it
        "events_per_stream": sum(r["events"] for r in reports) / max(count, 1),
        "open_seconds": max((r.get("open_seconds", 0.0) for r in opened), default=0.0),
        "fanout_p50_s": percentile(arrived, 50),
        "fanout_p99_s": percentile(arrived, 99),
        "fanout_max_s": max(arrived, default=math.nan),
        "fanout_read_p50_s": percentile(read, 50),
        "fanout_read_p99_s": percentile(read, 99),
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
