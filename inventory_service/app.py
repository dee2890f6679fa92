"""Composition root of the inventory service: build every dependency once, wire, run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from inventory_service.adapters.amqp_decisions import AmqpDecisionPublisher
from inventory_service.adapters.amqp_queues import QueueInspector
from inventory_service.adapters.postgres_order_counts import PostgresOrderCounts
from inventory_service.adapters.postgres_products import PostgresProducts
from inventory_service.adapters.postgres_sales import PostgresSaleRecords
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.appkeys import (
    AMQP,
    LINE,
    ORDER_COUNTS,
    POOL,
    PRODUCTS,
    QUEUES,
    RECORDS,
    SETTINGS,
    STORE,
)
from inventory_service.entrypoints.consumers import intents_handler
from inventory_service.entrypoints.http import routes
from inventory_service.handlers import (
    close_ended_waitlists,
    draw_due_rooms,
    restore_missing_sales,
)
from inventory_service.settings import InventorySettings
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names, declare_topology
from shared.runtime.consuming import consuming
from shared.runtime.resources import check_amqp, open_amqp, open_postgres, open_redis_of
from shared.runtime.sale_line import AmqpSaleLine
from shared.runtime.service import create_base_app, token_verifier_ctx
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    pool = await open_postgres(app[SETTINGS].database_url)
    app[POOL] = pool
    app[RECORDS] = PostgresSaleRecords(pool)
    app[PRODUCTS] = PostgresProducts(pool)
    app[ORDER_COUNTS] = PostgresOrderCounts(pool)
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = await open_redis_of(settings)
    app[STORE] = RedisSaleStore(
        client,
        Keys(settings.namespace),
        min_replica_acks=settings.redis_min_replica_acks,
        replica_ack_timeout_ms=settings.redis_replica_ack_timeout_ms,
    )
    await restore_missing_sales(
        records=app[RECORDS], order_counts=app[ORDER_COUNTS], store=app[STORE]
    )
    yield
    await client.aclose()


async def _consumers(app: web.Application) -> AsyncIterator[None]:
    """Declare the topology and consume every partition; a standby waits via SAC."""
    settings = app[SETTINGS]
    names = Names.of(settings)
    connection = await open_amqp(settings.amqp_url, name="inventory_service")
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    topology = await declare_topology(channel, names)
    decide = intents_handler(
        store=app[STORE],
        records=app[RECORDS],
        publisher=AmqpDecisionPublisher(
            topology.decisions,
            await channel.get_exchange(names.dead_letter_exchange),
            confirm_timeout=settings.publish_timeout,
        ),
    )
    app[AMQP] = connection
    app[LINE] = AmqpSaleLine(topology.intents, names, confirm_timeout=settings.publish_timeout)
    app[QUEUES] = QueueInspector(connection, names)
    exporter = asyncio.create_task(app[QUEUES].export_forever())
    closer = asyncio.create_task(_close_waitlists_forever(app))
    partitions = [names.intents_queue(p) for p in range(settings.intent_partitions)]
    async with consuming(
        connection,
        [(queue, decide) for queue in partitions],
        prefetch=settings.intent_prefetch,
        shutdown_timeout=settings.shutdown_timeout,
    ):
        yield
    exporter.cancel()
    closer.cancel()
    with contextlib.suppress(Exception):
        await connection.close()


async def _close_waitlists_forever(app: web.Application) -> None:
    """Refuse the buyers still waiting when a sale ends, and draw each waiting room whose
    fair window is over (both through the sale's line)."""
    while True:
        await asyncio.sleep(app[SETTINGS].waitlist_close_interval)
        try:
            await close_ended_waitlists(store=app[STORE], line=app[LINE])
            await draw_due_rooms(store=app[STORE], line=app[LINE])
        except DEPENDENCY_ERRORS as exc:
            log.warning("closing waitlists or drawing rooms failed", extra={"error": f"{exc!r}"})


def create_app(settings: InventorySettings) -> web.Application:
    async def postgres_ready() -> None:
        await app[POOL].fetchval("SELECT 1")

    async def redis_ready() -> None:
        await app[STORE].ping()

    async def amqp_ready() -> None:
        check_amqp(app.get(AMQP))

    app = create_base_app(
        {"postgres": postgres_ready, "redis": redis_ready, "rabbitmq": amqp_ready},
        service="inventory_service",
        settings=settings,
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([token_verifier_ctx(settings), _postgres, _redis, _consumers])
    app.add_routes(routes)
    return app
