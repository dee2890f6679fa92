"""Seeding a sale straight into Postgres and Redis, as the inventory service would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import redis.asyncio as aioredis

from inventory_service.adapters.postgres_products import PostgresProducts
from inventory_service.adapters.postgres_sales import PostgresSaleRecords
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import NewSale
from shared.contracts.products import Money, NewProduct, ProductView
from shared.contracts.redis_layout import Keys


async def seed_sale(
    pg: asyncpg.Pool | None,
    redis_client: aioredis.Redis,
    namespace: str,
    *,
    stock: int,
    name: str = "seeded",
    per_user_limit: int = 1,
) -> tuple[UUID, NewSale]:
    """An open sale of a product of its own (started a minute ago, ends in an hour); Postgres
    is skipped if no pool."""
    now = datetime.now(UTC)
    price = Money(amount=1_000, currency="EUR")
    product = ProductView(
        product_id=uuid4(), name=name, description=None, image_url=None, price=price
    )
    sale = NewSale(
        name=name,
        stock=stock,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        per_user_limit=per_user_limit,
        product_id=product.product_id,
        price=price,
        payment_window_seconds=600,
    )
    sale_id = uuid4()
    if pg is not None:
        await PostgresProducts(pg).insert(
            product.product_id, NewProduct(name=name, price=price), uuid4()
        )
        await PostgresSaleRecords(pg).insert(sale_id, sale, uuid4())
    await RedisSaleStore(redis_client, Keys(namespace)).create(sale_id, sale, product=product)
    return sale_id, sale
