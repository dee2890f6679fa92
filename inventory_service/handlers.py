"""The inventory service's use cases: decide a batch of intents, top up a sale's stock,
and repair missing sale counters at start."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from uuid import UUID

from aio_pika.abc import AbstractExchange

from inventory_service import metrics
from inventory_service.adapters.postgres_sales import SaleRepository
from inventory_service.adapters.redis_sales import SaleStore
from inventory_service.domain import Accepted, Rejected, StockIncreased, UnknownSale
from shared.contracts.messages import (
    AddStock,
    Command,
    CommandBatch,
    Event,
    EventBatch,
    PlacePurchase,
    PoisonMessage,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
    decode_commands,
    encode,
)
from shared.contracts.sales import now_ms
from shared.contracts.topology import Names
from shared.runtime import request_ids
from shared.runtime.consuming import Batch
from shared.runtime.publishing import publish_confirmed

log = logging.getLogger(__name__)


def _event(command: Command, decision: Accepted | Rejected | StockIncreased, now_ms: int) -> Event:
    # Constructed without validation: every field comes from a validated command.
    if isinstance(decision, StockIncreased):
        return StockAdded.model_construct(
            command_id=decision.command_id,
            sale_id=command.sale_id,
            quantity=command.quantity,  # type: ignore[union-attr]
            stock=decision.stock,
            remaining=decision.remaining,
            decided_at_ms=now_ms,
        )
    assert isinstance(command, PlacePurchase)
    if isinstance(decision, Accepted):
        return PurchaseAccepted.model_construct(
            ticket_id=command.ticket_id,
            sale_id=command.sale_id,
            user_id=command.user_id,
            decided_at_ms=now_ms,
        )
    return PurchaseRejected.model_construct(
        ticket_id=command.ticket_id,
        sale_id=command.sale_id,
        user_id=command.user_id,
        reason=decision.reason,
        decided_at_ms=now_ms,
    )


class IntentDecider:
    """Batch handler of a partition queue: Redis decides, the broker confirms, then we ack."""

    def __init__(
        self,
        store: SaleStore,
        repository: SaleRepository,
        decisions: AbstractExchange,
        dead_letters: AbstractExchange,
        *,
        publish_timeout: float,
    ) -> None:
        self._store = store
        self._repository = repository
        self._decisions = decisions
        self._dead_letters = dead_letters
        self._publish_timeout = publish_timeout

    async def __call__(self, batch: Batch) -> None:
        commands: list[Command] = []
        ids: list[str | None] = []  # the request id of each command, where the gateway sent it
        for message in batch:
            try:
                decoded = decode_commands(message.body).commands
            except PoisonMessage as exc:
                log.error(
                    "poison intent message dead-lettered",
                    extra={"reason": str(exc), "request_ids": request_ids.carried(message.headers)},
                )
                metrics.POISON.labels(type(exc).__name__).inc()
                await message.reject(requeue=False)
                continue
            commands.extend(decoded)
            ids.extend(request_ids.from_message(message.headers, len(decoded)))
        if not commands:
            return
        decisions = await self._store.decide(commands)
        now_ms = int(time.time() * 1000)
        events: list[Event] = []
        event_ids: list[str | None] = []
        unknown: list[tuple[Command, str | None]] = []
        for command, decision, request_id in zip(commands, decisions, ids, strict=True):
            if isinstance(decision, UnknownSale):
                unknown.append((command, request_id))
                continue
            events.append(_event(command, decision, now_ms))
            event_ids.append(request_id)
        metrics.BATCH_SIZE.observe(len(commands))
        for command, decision in zip(commands, decisions, strict=True):
            if isinstance(command, AddStock) and isinstance(decision, StockIncreased):
                # Durable before the ack; a redelivery records nothing twice.
                await self._repository.record_stock_change(
                    command.command_id, command.sale_id, command.quantity
                )
        if unknown:
            await self._dead_letter(unknown)
        if events:
            await publish_confirmed(
                self._decisions,
                encode(EventBatch.model_construct(events=events)),
                "decisions",
                confirm_timeout=self._publish_timeout,
                headers=request_ids.message_headers(event_ids),
            )
        debug = log.isEnabledFor(logging.DEBUG)
        for event, request_id in zip(events, event_ids, strict=True):
            metrics.DECISIONS.labels(
                event.reason if isinstance(event, PurchaseRejected) else event.type
            ).inc()
            if debug and isinstance(event, PurchaseAccepted | PurchaseRejected):
                log.debug(
                    "decided",
                    extra={
                        "ticket_id": str(event.ticket_id),
                        "event": event.type,
                        "request_id": request_id,
                    },
                )

    async def _dead_letter(self, unknown: list[tuple[Command, str | None]]) -> None:
        # Only the items naming an unknown sale go to the dead-letter queue; the rest of
        # their message is decided as usual.
        for command, request_id in unknown:
            log.error(
                "intent for an unknown sale dead-lettered",
                extra={"sale_id": str(command.sale_id), "request_id": request_id},
            )
        metrics.POISON.labels("UnknownSale").inc(len(unknown))
        await publish_confirmed(
            self._dead_letters,
            encode(CommandBatch(commands=[command for command, _ in unknown])),
            "",
            confirm_timeout=self._publish_timeout,
            headers={
                "x-poison-reason": "unknown_sale",
                **request_ids.message_headers([request_id for _, request_id in unknown]),
            },
        )


class StockTopUps:
    """Publishes AddStock like any intent, so it takes effect at a well-defined place in line."""

    def __init__(
        self,
        intents: AbstractExchange,
        names: Names,
        store: SaleStore,
        *,
        confirm_timeout: float,
        wait_for_decision: float = 5.0,
    ) -> None:
        self._intents = intents
        self._names = names
        self._store = store
        self._confirm_timeout = confirm_timeout
        self._wait = wait_for_decision

    async def add(self, sale_id: UUID, quantity: int) -> tuple[UUID, StockIncreased | None]:
        """(command id, its decision) — None if the line did not reach it within the wait."""
        command = AddStock(
            command_id=uuid.uuid4(), sale_id=sale_id, quantity=quantity, requested_at_ms=now_ms()
        )
        await publish_confirmed(
            self._intents,
            encode(CommandBatch(commands=[command])),
            str(self._names.partition_of(sale_id)),
            confirm_timeout=self._confirm_timeout,
            headers=request_ids.message_headers([request_ids.current()]),
        )
        deadline = time.monotonic() + self._wait
        while time.monotonic() < deadline:
            outcome = await self._store.command_outcome(command.command_id)
            if outcome is not None:
                return command.command_id, outcome
            await asyncio.sleep(0.02)
        return command.command_id, None


async def restore_missing_sales(repository: SaleRepository, store: SaleStore) -> int:
    """Create the Redis hash of each sale that lacks one; return how many were created.

    A hash is missing after a crash between the two writes of sale creation (then it has
    no orders and the rebuild is exact) or after Redis lost its data, which the shipped
    Redis settings (AOF, fsync always) prevent. In the second case decisions still in the
    broker are not counted, so the rebuild is logged loudly for an operator to check.
    """
    restored = 0
    for sale_id, sale, orders in await repository.all_with_orders():
        remaining = max(sale.stock - orders, 0)
        if await store.create(sale_id, sale, remaining=remaining):
            restored += 1
            level = logging.WARNING if orders else logging.INFO
            log.log(
                level,
                "sale counters rebuilt from Postgres",
                extra={"sale_id": str(sale_id), "orders": orders, "remaining": remaining},
            )
    return restored
