"""Postgres adapter: sale definitions (the durable truth behind the Redis counters)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from inventory_service.adapters.postgres_products import product_of
from inventory_service.domain import NewSale
from shared.contracts.products import Money, ProductView


class PostgresSaleRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, sale_id: UUID, sale: NewSale, created_by: UUID) -> None:
        """Record a sale whose terms are complete (product, price, payment window)."""
        assert sale.product_id is not None
        assert sale.price is not None
        await self._pool.execute(
            "INSERT INTO sales (sale_id, name, stock, starts_at, ends_at, per_user_limit,"
            " created_by, product_id, price_amount, currency, payment_window_seconds,"
            " waitlist_size, waiting_room_opens_at, fair_window_seconds, pow_difficulty)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            sale_id,
            sale.name,
            sale.stock,
            sale.starts_at,
            sale.ends_at,
            sale.per_user_limit,
            created_by,
            sale.product_id,
            sale.price.amount,
            sale.price.currency,
            sale.payment_window_seconds,
            sale.waitlist_size,
            sale.waiting_room_opens_at,
            sale.fair_window_seconds,
            sale.pow_difficulty,
        )

    async def all(self) -> list[tuple[UUID, NewSale, ProductView]]:
        """Every sale's definition and product (for rebuilding missing Redis state)."""
        rows = await self._pool.fetch(
            "SELECT s.sale_id, s.name AS sale_name, s.stock, s.starts_at, s.ends_at,"
            " s.per_user_limit, s.price_amount AS sale_amount, s.currency AS sale_currency,"
            " s.payment_window_seconds, s.waitlist_size, s.waiting_room_opens_at,"
            " s.fair_window_seconds, s.pow_difficulty, p.product_id, p.name, p.description,"
            " p.image_url, p.price_amount, p.currency"
            " FROM sales s JOIN products p USING (product_id)"
        )
        return [
            (
                r["sale_id"],
                NewSale(
                    name=r["sale_name"],
                    stock=r["stock"],
                    starts_at=r["starts_at"],
                    ends_at=r["ends_at"],
                    per_user_limit=r["per_user_limit"],
                    product_id=r["product_id"],
                    price=Money(amount=r["sale_amount"], currency=r["sale_currency"]),
                    payment_window_seconds=r["payment_window_seconds"],
                    waitlist_size=r["waitlist_size"],
                    waiting_room_opens_at=r["waiting_room_opens_at"],
                    fair_window_seconds=r["fair_window_seconds"],
                    pow_difficulty=r["pow_difficulty"],
                ),
                product_of(r),
            )
            for r in rows
        ]

    async def record_draw(self, sale_id: UUID, seed: str, drawn_at_ms: int, tickets: int) -> None:
        """Keep a sale's draw (seed, time, tickets drawn) for audit; the first one stays."""
        await self._pool.execute(
            "UPDATE sales SET draw_seed = $2, drawn_at = to_timestamp($3 / 1000.0),"
            " drawn_tickets = $4 WHERE sale_id = $1 AND draw_seed IS NULL",
            sale_id,
            seed,
            drawn_at_ms,
            tickets,
        )

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
