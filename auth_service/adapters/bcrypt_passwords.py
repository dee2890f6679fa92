"""bcrypt off the event loop, in a thread pool that sheds work by its expected wait.

A check costs the same every time at a given cost factor (~1 ms at 4, ~250 ms at 12), so the
wait a new check would face is known: the checks ahead of it times the measured cost of one,
shared by the workers. When that exceeds ``max_wait`` the check is refused with 503 at once
(the client retries) instead of queueing: in a login storm a queue only grows memory and
latency until every answer is too late. A fixed count of checks in flight would shed far too
early at a low cost and too late at a high one.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from auth_service import metrics
from auth_service.domain import PASSWORD_MAX_BYTES
from shared.contracts.errors import ServiceUnavailable

T = TypeVar("T")

# Weight of the newest measurement in the running cost of one check: smooth enough to ignore
# one slow check, quick enough to follow a machine that got busier.
_SMOOTHING = 0.2


class BcryptHasher:
    """Hashes and checks passwords in a thread pool; refuses work that would wait too long."""

    def __init__(self, *, rounds: int, workers: int, max_wait: float) -> None:
        self._rounds = rounds
        self._workers = workers
        self._max_wait = max_wait
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        # Updated from the worker threads as jobs finish, read on the event loop.
        self._lock = threading.Lock()
        self._queued = 0  # submitted and not finished (waiting or running)
        self._seconds_per_check = 0.0  # measured; 0 until the first job (start()) ran
        self._dummy_hash = b""

    async def start(self) -> None:
        """Prepare the dummy hash that unknown users are checked against (same cost); this
        first job also measures what one check costs here."""
        self._dummy_hash = (await self.hash(secrets.token_urlsafe(16))).encode()

    async def close(self) -> None:
        """Stop the workers, dropping queued jobs (their awaiters are gone at shutdown)."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)

    def expected_wait(self) -> float:
        """Seconds a job submitted now would wait before a worker takes it (an estimate)."""
        with self._lock:
            return self._queued * self._seconds_per_check / self._workers

    async def hash(self, password: str) -> str:
        """A new bcrypt hash of ``password`` at the configured cost."""
        hashed = await self._run(bcrypt.hashpw, password.encode(), bcrypt.gensalt(self._rounds))
        return hashed.decode()

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether ``password`` matches; with no hash, spend the same time and say no."""
        secret = password.encode()
        if len(secret) > PASSWORD_MAX_BYTES:
            return False  # bcrypt 5 raises; such a password can never have been stored
        stored = password_hash.encode() if password_hash is not None else None
        return await self._run(_check, secret, stored, self._dummy_hash)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        wait = self.expected_wait()
        if wait > self._max_wait:
            metrics.BCRYPT_SHED.inc()
            raise ServiceUnavailable(
                "too many password checks in progress; retry shortly",
                # By then the queue ahead has drained below the bound.
                retry_after=max(1, math.ceil(wait - self._max_wait)),
            )
        with self._lock:
            self._queued += 1
            metrics.BCRYPT_QUEUE.set(self._queued)
        try:
            job = self._pool.submit(self._timed, fn, args, time.perf_counter())
        except BaseException:
            self._finished(None)
            raise
        return await asyncio.wrap_future(job)

    def _timed(self, fn: Callable[..., T], args: tuple[object, ...], submitted: float) -> T:
        """Runs in a worker thread: the job, timed, and the queue's accounting."""
        started = time.perf_counter()
        metrics.BCRYPT_WAIT.observe(started - submitted)
        try:
            return fn(*args)
        finally:
            self._finished(time.perf_counter() - started)

    def _finished(self, seconds: float | None) -> None:
        with self._lock:
            self._queued -= 1
            metrics.BCRYPT_QUEUE.set(self._queued)
            if seconds is not None:
                previous = self._seconds_per_check
                self._seconds_per_check = (
                    seconds if previous == 0 else previous + _SMOOTHING * (seconds - previous)
                )


def _check(password: bytes, stored: bytes | None, dummy: bytes) -> bool:
    if stored is not None:
        try:
            return bcrypt.checkpw(password, stored)
        except ValueError:
            pass  # not a bcrypt hash (load-test accounts store "!"): can never match
    # Unknown user or unusable hash: pay for one check anyway so the answer takes as long.
    bcrypt.checkpw(password, dummy)
    return False
