"""The partition consumers' entrypoint: parse a delivered batch of intents, decide it."""

from __future__ import annotations

import logging

from inventory_service import metrics
from inventory_service.handlers import decide_intents
from inventory_service.ports import DecisionPublisher, SaleRecords, SaleStore
from shared.contracts.messages import Command, PoisonMessage, decode_commands
from shared.runtime import request_ids
from shared.runtime.consuming import Batch, BatchHandler

log = logging.getLogger(__name__)


def intents_handler(
    *, store: SaleStore, records: SaleRecords, publisher: DecisionPublisher
) -> BatchHandler:
    """The batch handler of a partition queue (see shared.runtime.consuming)."""

    async def handle(batch: Batch) -> None:
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
        if commands:
            await decide_intents(commands, ids, store=store, records=records, publisher=publisher)

    return handle
