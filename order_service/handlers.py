"""The use case: persist a batch of decisions, then finalise the tickets, then ack."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from order_service import metrics
from order_service.adapters.postgres_orders import OrderRepository
from order_service.adapters.redis_tickets import TicketBoard
from order_service.domain import outcomes_of
from shared.contracts.messages import (
    Event,
    PoisonMessage,
    PurchaseAccepted,
    PurchaseRejected,
    decode_events,
)
from shared.runtime import request_ids
from shared.runtime.consuming import Batch

PurchaseEvent = PurchaseAccepted | PurchaseRejected

log = logging.getLogger(__name__)


class DecisionPersister:
    """Batch handler of the decisions queue: commit first, show the outcome second."""

    def __init__(self, repository: OrderRepository, board: TicketBoard) -> None:
        self._repository = repository
        self._board = board

    async def __call__(self, batch: Batch) -> None:
        events: list[Event] = []
        ids: dict[UUID, str] = {}  # ticket -> the request that bought it, where known
        for message in batch:
            try:
                decoded = decode_events(message.body).events
            except PoisonMessage as exc:
                log.error(
                    "poison decision message dead-lettered",
                    extra={"reason": str(exc), "request_ids": request_ids.carried(message.headers)},
                )
                metrics.POISON.labels(type(exc).__name__).inc()
                await message.reject(requeue=False)
                continue
            events.extend(decoded)
            for event, request_id in zip(
                decoded, request_ids.from_message(message.headers, len(decoded)), strict=True
            ):
                if request_id is not None and isinstance(event, PurchaseEvent):
                    ids[event.ticket_id] = request_id
        outcomes = outcomes_of(events)
        if not outcomes:
            return
        started = time.perf_counter()
        await self._repository.persist(outcomes)
        metrics.DB_WRITE_SECONDS.observe(time.perf_counter() - started)
        # Only after the commit: a ticket never reads "confirmed" without its order row.
        await self._board.finalise(outcomes)
        metrics.BATCH_SIZE.observe(len(outcomes))
        debug = log.isEnabledFor(logging.DEBUG)
        for outcome in outcomes:
            metrics.PERSISTED.labels(outcome.status).inc()
            if debug:
                log.debug(
                    "ticket final",
                    extra={
                        "ticket_id": str(outcome.ticket_id),
                        "status": outcome.status,
                        "request_id": ids.get(outcome.ticket_id),
                    },
                )
