"""The partition consumers' entrypoint: parse a delivered batch of intents, decide it."""

from __future__ import annotations

import logging

from inventory_service import metrics
from inventory_service.handlers import decide_intents
from inventory_service.ports import DecisionPublisher, SaleRecords, SaleStore
from shared.contracts.messages import Command, PoisonMessage, decode_commands
from shared.runtime import request_ids
from shared.runtime.consuming import Batch, BatchHandler, Delivery, parse_batch

log = logging.getLogger(__name__)


def _poison(message: Delivery, exc: PoisonMessage) -> None:
    log.error(
        "poison intent message dead-lettered",
        extra={"reason": str(exc), "request_ids": request_ids.carried(message.headers)},
    )
    metrics.POISON.labels(type(exc).__name__).inc()


def _commands(body: bytes) -> list[Command]:
    return decode_commands(body).commands


def intents_handler(
    *, store: SaleStore, records: SaleRecords, publisher: DecisionPublisher
) -> BatchHandler:
    """The batch handler of a partition queue (see shared.runtime.consuming)."""

    async def handle(batch: Batch) -> None:
        commands, ids = await parse_batch(batch, _commands, on_poison=_poison)
        if commands:
            await decide_intents(commands, ids, store=store, records=records, publisher=publisher)

    return handle
