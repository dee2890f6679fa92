"""`python -m shared.migrate`: create the database if missing and apply every migration.

Idempotent and safe to run from several processes at once: creating the database tolerates
a concurrent creator, and migrations run under a Postgres advisory lock.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from importlib import resources

import asyncpg

from shared.contracts.settings import ServiceSettings
from shared.runtime import entrypoint
from shared.runtime.config_errors import ConfigurationError
from shared.runtime.logs import setup_logging
from shared.runtime.resources import connect_postgres

log = logging.getLogger(__name__)

# Any fixed number: every migrator takes the same lock.
_LOCK_ID = 0x666C617368  # "flash"


def _split_dsn(dsn: str) -> tuple[str, str]:
    """(maintenance DSN, database name) for a postgresql:// URL."""
    base, _, tail = dsn.rpartition("/")
    name, _, query = tail.partition("?")
    if not name or base.endswith("/"):
        raise ValueError(f"DATABASE_URL must name a database: {dsn!r}")
    maintenance = f"{base}/postgres" + (f"?{query}" if query else "")
    return maintenance, name


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) of every migration, in order."""
    folder = resources.files("shared") / "migrations"
    found = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name.removesuffix(".sql"), p.read_text()) for p in found]


async def create_database(dsn: str) -> bool:
    """Create the database named in ``dsn`` unless it exists; True if this call created it."""
    _, name = _split_dsn(dsn)
    # The maintenance database on DATABASE_URL's server, with DATABASE_URL's login.
    conn = await connect_postgres(dsn, database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # another migrator won the race
        return True
    finally:
        await conn.close()


async def apply_migrations(dsn: str) -> list[str]:
    """Apply the migrations not yet applied; return the versions this call applied."""
    conn = await connect_postgres(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    finally:
        await conn.close()
    return applied


async def migrate(dsn: str) -> None:
    created = await create_database(dsn)
    applied = await apply_migrations(dsn)
    log.info(
        "migrations done",
        extra={"database_created": created, "applied": applied, "database": _split_dsn(dsn)[1]},
    )


def main(argv: list[str] | None = None) -> int:
    entrypoint.parser(
        "python -m shared.migrate",
        "Create the database if missing and apply every migration (idempotent).",
        ServiceSettings,
        skip=set(ServiceSettings.model_fields) - {"database_url", "log_level"},
    ).parse_args(argv)
    settings = entrypoint.load_settings(ServiceSettings)
    setup_logging("migrate", settings.log_level)
    try:
        asyncio.run(migrate(settings.database_url))
    except ConfigurationError as exc:
        entrypoint.fail(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
