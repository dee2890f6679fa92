"""The top-up use case: add stock through the sale's own line, then report its effect."""

from __future__ import annotations

import asyncio
import time
import uuid
from uuid import UUID

from aio_pika.abc import AbstractExchange

from inventory_service.domain import StockIncreased
from inventory_service.store import SaleStore
from shared import request_ids
from shared.messages import AddStock, CommandBatch, encode
from shared.publishing import publish_confirmed
from shared.sales import now_ms
from shared.topology import Names


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
