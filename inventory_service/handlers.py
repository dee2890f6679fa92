"""The inventory service's use cases: decide a batch of intents, add stock through a sale's
line, and repair missing sale counters at start. Dependencies are passed in (ports.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from uuid import UUID

from inventory_service import metrics
from inventory_service.domain import Accepted, NewSale, Rejected, StockIncreased, UnknownSale
from inventory_service.ports import (
    CommandLine,
    DecisionPublisher,
    OrderCounts,
    RequestIds,
    SaleRecords,
    SaleStore,
)
from shared.contracts.messages import (
    AddStock,
    Command,
    Event,
    PlacePurchase,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
)
from shared.contracts.sales import now_ms

log = logging.getLogger(__name__)


async def decide_intents(
    commands: Sequence[Command],
    request_ids: RequestIds,
    *,
    store: SaleStore,
    records: SaleRecords,
    publisher: DecisionPublisher,
) -> None:
    """Decide a batch in line order, make its effects durable, then hand the decisions on.

    Only when this returns may the intents be acked: a failure anywhere raises, the intents
    come back, and their redelivery gets the decisions stored the first time (nothing is
    decided, recorded or published twice in effect).
    """
    decisions = await store.decide(commands)
    decided_at = now_ms()
    events: list[Event] = []
    event_ids: list[str | None] = []
    unknown: list[Command] = []
    unknown_ids: list[str | None] = []
    for command, decision, request_id in zip(commands, decisions, request_ids, strict=True):
        if isinstance(decision, UnknownSale):
            unknown.append(command)
            unknown_ids.append(request_id)
            continue
        if isinstance(command, AddStock):
            # Durable before the ack; a redelivery records nothing twice.
            await records.record_stock_change(command.command_id, command.sale_id, command.quantity)
        events.append(_event(command, decision, decided_at))
        event_ids.append(request_id)
    metrics.BATCH_SIZE.observe(len(commands))
    if unknown:
        # Only the items naming an unknown sale go to the dead-letter queue; the rest of
        # their message is decided as usual.
        for command, request_id in zip(unknown, unknown_ids, strict=True):
            log.error(
                "intent for an unknown sale dead-lettered",
                extra={"sale_id": str(command.sale_id), "request_id": request_id},
            )
        metrics.POISON.labels("UnknownSale").inc(len(unknown))
        await publisher.dead_letter(unknown, unknown_ids, reason="unknown_sale")
    if events:
        await publisher.publish(events, event_ids)
    _count(events, event_ids)


def _event(command: Command, decision: Accepted | Rejected | StockIncreased, at_ms: int) -> Event:
    # Constructed without validation: every field comes from a validated command.
    if isinstance(decision, StockIncreased):
        assert isinstance(command, AddStock)
        return StockAdded.model_construct(
            command_id=decision.command_id,
            sale_id=command.sale_id,
            quantity=command.quantity,
            stock=decision.stock,
            remaining=decision.remaining,
            decided_at_ms=at_ms,
        )
    assert isinstance(command, PlacePurchase)
    if isinstance(decision, Accepted):
        return PurchaseAccepted.model_construct(
            ticket_id=command.ticket_id,
            sale_id=command.sale_id,
            user_id=command.user_id,
            decided_at_ms=at_ms,
        )
    return PurchaseRejected.model_construct(
        ticket_id=command.ticket_id,
        sale_id=command.sale_id,
        user_id=command.user_id,
        reason=decision.reason,
        decided_at_ms=at_ms,
    )


def _count(events: Sequence[Event], request_ids: RequestIds) -> None:
    debug = log.isEnabledFor(logging.DEBUG)
    for event, request_id in zip(events, request_ids, strict=True):
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


async def create_sale(
    sale: NewSale, created_by: UUID, *, records: SaleRecords, store: SaleStore
) -> UUID:
    """Record a new sale and put its counters in place; its id."""
    sale_id = uuid.uuid4()
    # Postgres first: it is the durable record, and the start-up repair rebuilds counters
    # that a crash between these two writes left missing.
    await records.insert(sale_id, sale, created_by)
    await store.create(sale_id, sale)
    return sale_id


async def add_stock(
    sale_id: UUID,
    quantity: int,
    *,
    line: CommandLine,
    store: SaleStore,
    request_id: str | None = None,
    wait: float = 5.0,
) -> tuple[UUID, StockIncreased | None]:
    """Add units through the sale's own line, so they take effect at a well-defined place in
    it; (command id, its decision), None if the line did not reach it within ``wait``."""
    command = AddStock(
        command_id=uuid.uuid4(), sale_id=sale_id, quantity=quantity, requested_at_ms=now_ms()
    )
    await line.enqueue(command, request_id)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        outcome = await store.command_outcome(command.command_id)
        if outcome is not None:
            return command.command_id, outcome
        await asyncio.sleep(0.02)
    return command.command_id, None


async def restore_missing_sales(
    *, records: SaleRecords, order_counts: OrderCounts, store: SaleStore
) -> int:
    """Create the counters of each sale that lacks them; return how many were created.

    They are missing after a crash between the two writes of sale creation (then the sale
    has no orders and the rebuild is exact) or after Redis lost its data, which the shipped
    Redis settings (AOF, fsync always) prevent. In the second case decisions still in the
    broker are not counted, so the rebuild is logged loudly for an operator to check.
    """
    restored = 0
    orders_by_sale = await order_counts.by_sale()
    for sale_id, sale in await records.all():
        orders = orders_by_sale.get(sale_id, 0)
        remaining = max(sale.stock - orders, 0)
        if await store.create(sale_id, sale, remaining=remaining):
            restored += 1
            log.log(
                logging.WARNING if orders else logging.INFO,
                "sale counters rebuilt from Postgres",
                extra={"sale_id": str(sale_id), "orders": orders, "remaining": remaining},
            )
    return restored
