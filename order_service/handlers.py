"""The order service's use cases: persist a batch of decisions, list a buyer's orders.
Dependencies are passed in (ports.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from uuid import UUID

from order_service import metrics
from order_service.domain import outcomes_of
from order_service.ports import OrderRow, OrderStore, TicketFinaliser
from shared.contracts.messages import Event, PurchaseAccepted, PurchaseRejected

log = logging.getLogger(__name__)


async def persist_decisions(
    events: Sequence[Event],
    request_ids: Sequence[str | None],
    *,
    orders: OrderStore,
    tickets: TicketFinaliser,
) -> None:
    """Commit a batch of decisions, then show their outcome; only then may they be acked.

    Commit first: a ticket never reads "confirmed" without its order row. A failure raises
    and the batch comes back; persisting is idempotent per ticket, so its redelivery writes
    nothing twice.
    """
    outcomes = outcomes_of(list(events))
    if not outcomes:
        return
    started = time.perf_counter()
    await orders.persist(outcomes)
    metrics.DB_WRITE_SECONDS.observe(time.perf_counter() - started)
    await tickets.finalise(outcomes)
    metrics.BATCH_SIZE.observe(len(outcomes))
    by_ticket = {
        event.ticket_id: request_id
        for event, request_id in zip(events, request_ids, strict=True)
        if request_id is not None and isinstance(event, PurchaseAccepted | PurchaseRejected)
    }
    debug = log.isEnabledFor(logging.DEBUG)
    for outcome in outcomes:
        metrics.PERSISTED.labels(outcome.status).inc()
        if debug:
            log.debug(
                "ticket final",
                extra={
                    "ticket_id": str(outcome.ticket_id),
                    "status": outcome.status,
                    "request_id": by_ticket.get(outcome.ticket_id),
                },
            )


async def list_orders(user_id: UUID, limit: int, *, orders: OrderStore) -> list[OrderRow]:
    """The buyer's own orders, newest first."""
    return await orders.orders_of(user_id, limit)
