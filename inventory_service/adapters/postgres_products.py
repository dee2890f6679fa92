"""Postgres adapter: products (what a sale sells, and its list price)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.contracts.products import Money, NewProduct, ProductView


def product_of(row: asyncpg.Record) -> ProductView:
    return ProductView(
        product_id=row["product_id"],
        name=row["name"],
        description=row["description"],
        image_url=row["image_url"],
        price=Money(amount=row["price_amount"], currency=row["currency"]),
    )


class PostgresProducts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, product_id: UUID, product: NewProduct, created_by: UUID) -> None:
        await self._pool.execute(
            "INSERT INTO products (product_id, name, description, image_url, price_amount,"
            " currency, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            product_id,
            product.name,
            product.description,
            None if product.image_url is None else str(product.image_url),
            product.price.amount,
            product.price.currency,
            created_by,
        )

    async def get(self, product_id: UUID) -> ProductView | None:
        row = await self._pool.fetchrow(
            "SELECT product_id, name, description, image_url, price_amount, currency"
            " FROM products WHERE product_id = $1",
            product_id,
        )
        return None if row is None else product_of(row)

    async def all(self) -> list[ProductView]:
        rows = await self._pool.fetch(
            "SELECT product_id, name, description, image_url, price_amount, currency"
            " FROM products ORDER BY created_at DESC, product_id"
        )
        return [product_of(r) for r in rows]
