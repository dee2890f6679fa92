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
