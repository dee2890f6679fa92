"""The one read the inventory service makes of the order service's data: orders per sale.

Through the `sale_order_counts` view the order side publishes (shared/migrations), never
the `orders` table itself.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

COUNTS = ("orders", "awaiting_payment", "paid", "expired", "refunded", "revenue")


class PostgresOrderCounts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def of_sale(self, sale_id: UUID) -> dict[str, int]:
        row = await self._pool.fetchrow(
            "SELECT orders, awaiting_payment, paid, expired, refunded, revenue"
            " FROM sale_order_counts WHERE sale_id = $1",
            sale_id,
        )
        return {name: int(row[name]) if row else 0 for name in COUNTS}

    async def held_by_sale(self) -> dict[UUID, int]:
        rows = await self._pool.fetch(
            "SELECT sale_id, awaiting_payment + paid AS held FROM sale_order_counts"
        )
        return {row["sale_id"]: int(row["held"]) for row in rows}
