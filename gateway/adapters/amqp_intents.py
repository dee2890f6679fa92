"""Micro-batched, confirmed publishing of purchase intents.

One persistent message with publisher confirms costs a broker round trip and an fsync;
paid per request it caps a gateway near 3,000 purchases/s. Purchases for the same partition
go out together, and each request is answered only once its message is confirmed. A batch
closes after ``linger`` (about a millisecond) or at ``max_batch``; while ``max_in_flight``
batches of a partition await their confirms, the next one keeps growing, so batches grow
with the load by themselves instead of paying a publish for every few purchases. A failed
batch fails every request in it (503), never a false 202.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from aio_pika.abc import AbstractExchange

from gateway import metrics
from gateway.adapters.redis_tickets import Tickets
from shared.contracts.errors import ServiceUnavailable
from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.topology import Names
from shared.runtime import request_ids
from shared.runtime.publishing import publish_confirmed
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)

# A purchase, the id of the request that made it, and the future its request awaits.
_Pending = tuple[PlacePurchase, str | None, asyncio.Future[None]]


class IntentPublisher:
    def __init__(
        self,
        exchange: AbstractExchange,
        tickets: Tickets,
        names: Names,
        *,
        linger: float,
        max_batch: int,
        confirm_timeout: float,
        max_in_flight: int = 2,
    ) -> None:
        self._exchange = exchange
        self._tickets = tickets
        self._names = names
        self._linger = linger
        self._max_batch = max_batch
        self._confirm_timeout = confirm_timeout
        self._max_in_flight = max_in_flight
        self._buffers: dict[int, list[_Pending]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._in_flight: dict[int, int] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, purchase: PlacePurchase) -> None:
        """Queue the purchase; return once the broker confirmed it (ServiceUnavailable if not)."""
        loop = asyncio.get_running_loop()
        partition = self._names.partition_of(purchase.sale_id)
        future: asyncio.Future[None] = loop.create_future()
        buffer = self._buffers.setdefault(partition, [])
        buffer.append((purchase, request_ids.current(), future))
        if len(buffer) >= self._max_batch:
            self._flush(partition)
        elif len(buffer) == 1:
            # A batch is nobody's request: its timer and task run outside this request's
            # context, and its log lines name the ids of all its requests.
            self._timers[partition] = loop.call_later(
                self._linger, self._flush, partition, context=contextvars.Context()
            )
        await future

    def _flush(self, partition: int, *, force: bool = False) -> None:
        timer = self._timers.pop(partition, None)
        if timer is not None:
            timer.cancel()
        if self._in_flight.get(partition, 0) >= self._max_in_flight and not force:
            return  # this batch goes out when a confirm comes back; it grows meanwhile
        buffer = self._buffers.get(partition, [])
        batch, rest = buffer[: self._max_batch], buffer[self._max_batch :]
        if rest:
            self._buffers[partition] = rest
        else:
            self._buffers.pop(partition, None)
        if batch:
            self._in_flight[partition] = self._in_flight.get(partition, 0) + 1
            task = asyncio.create_task(
                self._publish(partition, batch), context=contextvars.Context()
            )
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
            task.add_done_callback(lambda _: self._landed(partition))

    def _landed(self, partition: int) -> None:
        self._in_flight[partition] -= 1
        if self._buffers.get(partition):
            self._flush(partition)

    async def _publish(self, partition: int, batch: list[_Pending]) -> None:
        purchases = [purchase for purchase, _, _ in batch]
        ids = [request_id for _, request_id, _ in batch]
        issued = False
        try:
            # The records exist before the intent can be decided, so the decider's
            # "accepted" always lands on a ticket the gateway already wrote.
            await self._tickets.issue(purchases)
            issued = True
            await publish_confirmed(
                self._exchange,
                encode(CommandBatch(commands=purchases)),
                str(partition),
                confirm_timeout=self._confirm_timeout,
                headers=request_ids.message_headers(ids),
            )
        except Exception as exc:
            log.warning(
                "intent batch not confirmed",
                extra={
                    "partition": partition,
                    "size": len(batch),
                    "ticket_ids": [str(p.ticket_id) for p in purchases],
                    "request_ids": request_ids.present(ids),
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            metrics.PUBLISH_FAILURES.inc()
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(
                        ServiceUnavailable(
                            "the purchase could not be queued; retry shortly", retry_after=1
                        )
                    )
            await self._withdraw(purchases, counted=issued)
            return
        metrics.PUBLISH_BATCH_SIZE.observe(len(batch))
        metrics.INTENTS_PUBLISHED.inc(len(batch))
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)

    async def _withdraw(self, purchases: list[PlacePurchase], *, counted: bool) -> None:
        if not counted:
            for p in purchases:
                self._tickets.board.forget(str(p.ticket_id))
            return
        try:
            await self._tickets.withdraw(purchases)
        except DEPENDENCY_ERRORS as exc:
            # Only admission control reads the count; it recovers as the line drains.
            log.warning("enqueued count not taken back", extra={"error": f"{exc!r}"})

    async def close(self) -> None:
        """Publish what is buffered and wait for every publish in flight."""
        while self._buffers:
            for partition in list(self._buffers):
                self._flush(partition, force=True)
        while self._flushes:
            await asyncio.wait(set(self._flushes))
