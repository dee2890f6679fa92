"""Micro-batching: requests that arrive together share one round trip.

One persistent, confirmed publish costs a broker round trip and an fsync; paid per request it
caps a gateway near 3,000 purchases/s. Items submitted for the same key within ``linger``
(about a millisecond) or up to ``max_batch`` are handed to ``flush`` together, and each
submitter waits for its batch's outcome. While ``max_in_flight`` batches of a key are being
flushed the next one keeps growing, so batches grow with the load by themselves. A failed
flush fails exactly the submitters of that batch. It knows nothing of what it batches.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

Flush = Callable[[K, list[T]], Awaitable[None]]


class MicroBatcher(Generic[K, T]):
    def __init__(
        self, flush: Flush[K, T], *, linger: float, max_batch: int, max_in_flight: int = 2
    ) -> None:
        self._flush_batch = flush
        self._linger = linger
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._buffers: dict[K, list[tuple[T, asyncio.Future[None]]]] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._in_flight: dict[K, int] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, item: T) -> None:
        """Add ``item`` to the next batch of ``key``; return when that batch was flushed, or
        raise what the flush raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        buffer = self._buffers.setdefault(key, [])
        buffer.append((item, future))
        if len(buffer) >= self._max_batch:
            self._flush(key)
        elif len(buffer) == 1:
            # A batch is nobody's request: its timer and flush run outside the context of
            # the request that happened to open it (its request id, for one).
            self._timers[key] = loop.call_later(
                self._linger, self._flush, key, context=contextvars.Context()
            )
        await future

    def _flush(self, key: K, *, force: bool = False) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if self._in_flight.get(key, 0) >= self._max_in_flight and not force:
            return  # this batch goes out when a flush lands; it grows meanwhile
        buffer = self._buffers.get(key, [])
        batch, rest = buffer[: self._max_batch], buffer[self._max_batch :]
        if rest:
            self._buffers[key] = rest
        else:
            self._buffers.pop(key, None)
        if batch:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            task = asyncio.create_task(self._run(key, batch), context=contextvars.Context())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
            task.add_done_callback(lambda _: self._landed(key))

    def _landed(self, key: K) -> None:
        self._in_flight[key] -= 1
        if self._buffers.get(key):
            self._flush(key)

    async def _run(self, key: K, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._flush_batch(key, [item for item, _ in batch])
        except Exception as exc:  # handed to each submitter, who decides what it means
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def close(self) -> None:
        """Flush what is buffered and wait for every flush in flight."""
        while self._buffers:
            for key in list(self._buffers):
                self._flush(key, force=True)
        while self._flushes:
            await asyncio.wait(set(self._flushes))
