"""Each ticket's persisted outcome, read through the `ticket_outcomes` view the order side
publishes (shared/migrations): what reconciliation compares Redis with and rebuilds it from."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from inventory_service.reconciliation import Outcome


class PostgresTicketOutcomes:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def of_sale(self, sale_id: UUID) -> tuple[Outcome, ...]:
        rows = await self._pool.fetch(
            "SELECT ticket_id, user_id, status, reason, order_id, order_status"
            " FROM ticket_outcomes WHERE sale_id = $1",
            sale_id,
        )
        return tuple(Outcome(**dict(r)) for r in rows)
