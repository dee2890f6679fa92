"""The one read the inventory service makes of the order service's data: orders per sale.

Through the `sale_order_counts` view the order side publishes (shared/migrations), never
the `orders` table itself.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg


class PostgresOrderCounts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def of_sale(self, sale_id: UUID) -> int:
        count = await self._pool.fetchval(
            "SELECT orders FROM sale_order_counts WHERE sale_id = $1", sale_id
        )
        return int(count or 0)

    async def by_sale(self) -> dict[UUID, int]:
        rows = await self._pool.fetch("SELECT sale_id, orders FROM sale_order_counts")
        return {row["sale_id"]: int(row["orders"]) for row in rows}
