import asyncio

import asyncpg

from shared.migrate import migrate, migration_files
from tests.conftest import _drop_database


async def test_migrate_creates_database_and_is_idempotent_under_concurrency(servers):
    url = servers.database_url("fs_migrate_concurrent")
    await _drop_database(servers, "fs_migrate_concurrent")
    try:
        # Several migrators at once, as when every compose service starts together.
        await asyncio.gather(*(migrate(url) for _ in range(4)))
        await migrate(url)
        conn = await asyncpg.connect(url)
        try:
            versions = [
                r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")
            ]
            tables = {
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                )
            }
        finally:
            await conn.close()
        assert versions == [v for v, _ in migration_files()]
        assert {"users", "sales", "tickets", "orders"} <= tables
    finally:
        await _drop_database(servers, "fs_migrate_concurrent")


async def test_sales_and_orders_made_before_products_keep_working(servers):
    """Migration 0004 gives each earlier sale a product of its own (the sale's id and name,
    priced 0) and counts each earlier order as paid: none of them expires and releases a unit
    its buyer already has."""
    name = "fs_migrate_products"
    url = servers.database_url(name)
    await _drop_database(servers, name)
    conn = await asyncpg.connect(servers.postgres_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in migration_files()[:3]:  # the schema before products
            assert version < "0004"
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
        sale = await conn.fetchval(
            "INSERT INTO sales (sale_id, name, stock, starts_at, ends_at)"
            " VALUES (gen_random_uuid(), 'Old drop', 5, now(), now() + interval '1 hour')"
            " RETURNING sale_id"
        )
        ticket = await conn.fetchval(
            "INSERT INTO tickets (ticket_id, sale_id, user_id, status, decided_at)"
            " VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'confirmed', now())"
            " RETURNING ticket_id",
            sale,
        )
        await conn.execute(
            "INSERT INTO orders (order_id, ticket_id, sale_id, user_id, created_at)"
            " SELECT gen_random_uuid(), ticket_id, sale_id, user_id, decided_at FROM tickets"
        )
        await migrate(url)
        product = await conn.fetchrow("SELECT * FROM products")
        migrated = await conn.fetchrow("SELECT * FROM sales")
        order = await conn.fetchrow("SELECT * FROM orders")
        counts = await conn.fetchrow("SELECT * FROM sale_order_counts")
    finally:
        await conn.close()
        await _drop_database(servers, name)
    assert product is not None and migrated is not None
    assert order is not None and counts is not None
    assert (product["product_id"], product["name"], product["price_amount"]) == (
        sale,
        "Old drop",
        0,
    )
    assert (migrated["product_id"], migrated["price_amount"], migrated["currency"]) == (
        sale,
        0,
        "USD",
    )
    assert (migrated["payment_window_seconds"], migrated["waitlist_size"]) == (600, 0)
    assert order["ticket_id"] == ticket
    assert (order["status"], order["paid_at"], order["product_id"]) == (
        "paid",
        order["created_at"],
        sale,
    )
    assert (counts["orders"], counts["paid"], counts["awaiting_payment"]) == (1, 1, 0)
