"""Postgres adapter: sale definitions (the durable truth behind the Redis counters)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from inventory_service.domain import NewSale


class PostgresSaleRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, sale_id: UUID, sale: NewSale, created_by: UUID) -> None:
        await self._pool.execute(
            "INSERT INTO sales (sale_id, name, stock, starts_at, ends_at, per_user_limit,"
            " created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            sale_id,
            sale.name,
            sale.stock,
            sale.starts_at,
            sale.ends_at,
            sale.per_user_limit,
            created_by,
        )

    async def all(self) -> list[tuple[UUID, NewSale]]:
        """Every sale's definition (for rebuilding missing Redis state)."""
        rows = await self._pool.fetch(
            "SELECT sale_id, name, stock, starts_at, ends_at, per_user_limit FROM sales"
        )
        return [
            (
                r["sale_id"],
                NewSale(
                    name=r["name"],
                    stock=r["stock"],
                    starts_at=r["starts_at"],
                    ends_at=r["ends_at"],
                    per_user_limit=r["per_user_limit"],
                ),
            )
            for r in rows
        ]

    async def record_stock_change(self, command_id: UUID, sale_id: UUID, quantity: int) -> None:
        """Add a decided top-up to the durable stock, once per command."""
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO stock_changes (command_id, sale_id, quantity) VALUES ($1, $2, $3)"
                " ON CONFLICT (command_id) DO NOTHING RETURNING command_id",
                command_id,
                sale_id,
                quantity,
            )
            if inserted is not None:
                await conn.execute(
                    "UPDATE sales SET stock = stock + $2 WHERE sale_id = $1", sale_id, quantity
                )
