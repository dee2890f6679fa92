"""One loop per queue that handles deliveries in batches, in delivery order.

aio-pika runs each delivery's callback as its own task, and such tasks interleave at every
``await``; a FIFO decider cannot live in callbacks. Here the callback only appends to a
buffer (no ``await``, so deliveries enter it in order) and a single loop takes everything
buffered so far as one batch: one Redis call, one publish and one multiple-ack serve many
messages while the order of the line is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
)
from aiormq.exceptions import ChannelInvalidStateError

from shared.contracts.messages import PoisonMessage
from shared.runtime import request_ids
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)
T = TypeVar("T")


class Delivery(Protocol):
    """What a batch handler sees of a delivered message (aio-pika's, or a test's fake)."""

    @property
    def body(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, Any]: ...

    def reject(self, requeue: bool = False) -> Awaitable[None]:
        """Settle this message alone: dead-letter it (requeue=False) or give it back."""
        ...


Batch = Sequence[Delivery]
# Settles the poison messages of a batch itself (reject); the consumer acks the rest after it.
BatchHandler = Callable[[Batch], Awaitable[None]]


async def parse_batch(
    batch: Batch,
    decode: Callable[[bytes], Sequence[T]],
    *,
    on_poison: Callable[[Delivery, PoisonMessage], None],
) -> tuple[list[T], list[str | None]]:
    """The items of every delivery, in order, with the request id of each; a delivery that
    cannot be decoded is reported to ``on_poison`` and dead-lettered alone."""
    items: list[T] = []
    ids: list[str | None] = []
    for message in batch:
        try:
            decoded = decode(message.body)
        except PoisonMessage as exc:
            on_poison(message, exc)
            await message.reject(requeue=False)
            continue
        items.extend(decoded)
        ids.extend(request_ids.from_message(message.headers, len(decoded)))
    return items, ids


def is_stale(message: AbstractIncomingMessage) -> bool:
    """True once the delivering channel closed: the broker will redeliver the message."""
    try:
        return message.channel.is_closed
    except ChannelInvalidStateError:  # aio-pika raises instead once the channel is gone
        return True


class BatchConsumer:
    """Consumes one queue; ``handler`` settles poison messages, the rest are acked after it."""

    def __init__(
        self,
        queue: AbstractQueue,
        handler: BatchHandler,
        *,
        max_batch: int,
        name: str,
        retry_delay: float = 0.5,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._max_batch = max_batch
        self._name = name
        self._retry_delay = retry_delay
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tag: ConsumerTag | None = None
        self._stopping = asyncio.Event()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._buffer.put_nowait(message)  # no await before this: keeps delivery order

    async def run(self) -> None:
        """Consume until :meth:`stop`; a batch in hand is finished before returning."""
        self._tag = await self._queue.consume(self._on_message)
        log.info("consuming", extra={"queue": self._name})
        get: asyncio.Task[AbstractIncomingMessage] | None = None
        stop = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                get = asyncio.create_task(self._buffer.get())
                await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    break
                batch = [get.result()]
                get = None
                while len(batch) < self._max_batch and not self._buffer.empty():
                    batch.append(self._buffer.get_nowait())
                try:
                    await self._handle(batch)
                except Exception:
                    # Whatever happened to this batch, the line must keep moving: its
                    # messages are redelivered (the channel died) or were handed back.
                    log.exception("batch not settled", extra={"queue": self._name})
        finally:
            stop.cancel()
            if get is not None:
                get.cancel()

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:
        while True:
            live = [m for m in batch if not is_stale(m)]
            if not live or self._stopping.is_set():
                return  # unacked messages come back to the queue when the channel closes
            try:
                await self._handler(live)
                unsettled = [m for m in live if not m.processed]
                if unsettled:
                    # Poison messages were rejected one by one; a multiple-ack must end on
                    # a delivery still open, or the broker closes the channel.
                    await unsettled[-1].ack(multiple=True)
                return
            except DEPENDENCY_ERRORS as exc:
                # Redis, Postgres or the broker is down: keep the batch (unacked, in order)
                # and try again; giving it back would reorder the line and spend deliveries.
                log.warning(
                    "batch failed, retrying",
                    extra={"queue": self._name, "error": f"{type(exc).__name__}: {exc}"},
                )
                await asyncio.sleep(self._retry_delay)
            except Exception:
                # A bug or a message that breaks the handler: hand the batch back. The
                # queue's delivery limit dead-letters a message that keeps failing.
                log.exception("batch handler crashed", extra={"queue": self._name})
                for message in live:
                    if not message.processed and not is_stale(message):
                        await message.nack(requeue=True)
                await asyncio.sleep(self._retry_delay)
                return

    async def stop(self) -> None:
        """Stop taking deliveries; buffered, unhandled messages go back to the queue."""
        self._stopping.set()
        if self._tag is not None and not self._queue.channel.is_closed:
            # A channel already gone is fine: the broker requeues everything it delivered.
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._queue.cancel(self._tag)
        while not self._buffer.empty():
            message = self._buffer.get_nowait()
            if not is_stale(message):
                with contextlib.suppress(*DEPENDENCY_ERRORS):
                    await message.nack(requeue=True)


@contextlib.asynccontextmanager
async def consuming(
    connection: AbstractRobustConnection,
    queues: Sequence[tuple[str, BatchHandler]],
    *,
    prefetch: int,
    shutdown_timeout: float,
) -> AsyncIterator[None]:
    """Run one BatchConsumer per named queue while the block runs; stop them gracefully."""
    consumers: list[BatchConsumer] = []
    for name, handler in queues:
        # A channel per queue: its prefetch and its multiple-acks are its own.
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(name)
        consumers.append(BatchConsumer(queue, handler, max_batch=prefetch, name=name))
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:
        yield
    finally:
        # No new deliveries, finish the batches in hand, give back the rest.
        await asyncio.gather(*(c.stop() for c in consumers))
        _, pending = await asyncio.wait(tasks, timeout=shutdown_timeout)
        for task in pending:
            task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("consumer ended with an error", exc_info=task.exception())
