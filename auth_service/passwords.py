"""bcrypt off the event loop, in a bounded thread pool that sheds load instead of queueing."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from auth_service.domain import PASSWORD_MAX_BYTES
from shared.errors import ServiceUnavailable

T = TypeVar("T")

# How many operations may wait per worker. Beyond that a login storm would only grow memory
# and latency (each queued check still costs ~0.25 s at cost 12), so it gets 503 instead.
WAITING_PER_WORKER = 16


class BcryptHasher:
    """Hashes and checks passwords in a thread pool; at most workers * 17 operations in flight."""

    def __init__(self, *, rounds: int, workers: int) -> None:
        self._rounds = rounds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        # A threading semaphore: it is released from the worker thread when a job finishes,
        # so it bounds the executor's own (unbounded) queue, even for cancelled awaits.
        self._slots = threading.BoundedSemaphore(workers * (1 + WAITING_PER_WORKER))
        self._dummy_hash = b""

    async def start(self) -> None:
        """Prepare the dummy hash that unknown users are checked against (same cost)."""
        self._dummy_hash = (await self.hash(secrets.token_urlsafe(16))).encode()

    async def close(self) -> None:
        """Stop the workers, dropping queued jobs (their awaiters are gone at shutdown)."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)

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
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                "too many password checks in progress; retry shortly", retry_after=1
            )
        try:
            job: Future[T] = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        job.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(job)


def _check(password: bytes, stored: bytes | None, dummy: bytes) -> bool:
    if stored is not None:
        try:
            return bcrypt.checkpw(password, stored)
        except ValueError:
            pass  # not a bcrypt hash (load-test accounts store "!"): can never match
    # Unknown user or unusable hash: pay for one check anyway so the answer takes as long.
    bcrypt.checkpw(password, dummy)
    return False
