"""The decisions consumer's entrypoint: parse a delivered batch of decisions, persist it."""

from __future__ import annotations

import logging

from order_service import metrics
from order_service.handlers import persist_decisions
from order_service.ports import OrderStore, TicketFinaliser
from shared.contracts.messages import Event, PoisonMessage, decode_events
from shared.runtime import request_ids
from shared.runtime.consuming import Batch, BatchHandler, Delivery, parse_batch

log = logging.getLogger(__name__)


def _poison(message: Delivery, exc: PoisonMessage) -> None:
    log.error(
        "poison decision message dead-lettered",
        extra={"reason": str(exc), "request_ids": request_ids.carried(message.headers)},
    )
    metrics.POISON.labels(type(exc).__name__).inc()


def _events(body: bytes) -> list[Event]:
    return decode_events(body).events


def decisions_handler(*, orders: OrderStore, tickets: TicketFinaliser) -> BatchHandler:
    """The batch handler of the decisions queue (see shared.runtime.consuming)."""

    async def handle(batch: Batch) -> None:
        events, ids = await parse_batch(batch, _events, on_poison=_poison)
        await persist_decisions(events, ids, orders=orders, tickets=tickets)

    return handle
