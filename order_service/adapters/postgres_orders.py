"""Postgres adapter: tickets and orders, written in one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from order_service.domain import Outcome

# unnest() turns column arrays into rows: a whole batch in one statement and one round trip.
_INSERT_TICKETS = """
INSERT INTO tickets (ticket_id, sale_id, user_id, status, reason, decided_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                     $6::timestamptz[])
ON CONFLICT (ticket_id) DO NOTHING
"""
_INSERT_ORDERS = """
INSERT INTO orders (order_id, ticket_id, sale_id, user_id, created_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[])
ON CONFLICT (ticket_id) DO NOTHING
"""


class PostgresOrders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def persist(self, outcomes: Sequence[Outcome]) -> None:
        """Write tickets and orders of a batch atomically; rows already there are kept."""
        orders = [o for o in outcomes if o.order_id is not None]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _INSERT_TICKETS,
                [o.ticket_id for o in outcomes],
                [o.sale_id for o in outcomes],
                [o.user_id for o in outcomes],
                [o.status for o in outcomes],
                [o.reason for o in outcomes],
                [o.decided_at for o in outcomes],
            )
            if orders:
                await conn.execute(
                    _INSERT_ORDERS,
                    [o.order_id for o in orders],
                    [o.ticket_id for o in orders],
                    [o.sale_id for o in orders],
                    [o.user_id for o in orders],
                    [o.decided_at for o in orders],
                )

    async def orders_of(self, user_id: UUID, limit: int) -> list[dict[str, UUID | datetime]]:
        rows = await self._pool.fetch(
            "SELECT order_id, ticket_id, sale_id, created_at FROM orders"
            " WHERE user_id = $1 ORDER BY created_at DESC, order_id LIMIT $2",
            user_id,
            limit,
        )
        return [dict(r) for r in rows]
