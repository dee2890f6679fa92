"""Composition root of the order service: build every dependency once, wire, run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.adapters.redis_tickets import RedisTicketFinaliser
from order_service.appkeys import AMQP, ORDERS, POOL, SETTINGS, TICKETS
from order_service.entrypoints.consumers import decisions_handler
from order_service.entrypoints.http import routes
from order_service.settings import OrderSettings
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names, declare_topology
from shared.runtime.consuming import consuming
from shared.runtime.resources import check_amqp, open_amqp, open_postgres, open_redis
from shared.runtime.service import create_base_app, token_verifier_ctx


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    pool = await open_postgres(app[SETTINGS].database_url)
    app[POOL] = pool
    app[ORDERS] = PostgresOrders(pool)
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = await open_redis(settings.redis_url)
    app[TICKETS] = RedisTicketFinaliser(client, Keys(settings.namespace))
    yield
    await client.aclose()


async def _consumer(app: web.Application) -> AsyncIterator[None]:
    """Compete for the decisions queue with every other order service replica."""
    settings = app[SETTINGS]
    names = Names.of(settings)
    connection = await open_amqp(settings.amqp_url, name="order_service")
    app[AMQP] = connection
    channel = await connection.channel()
    await declare_topology(channel, names)
    persist = decisions_handler(orders=app[ORDERS], tickets=app[TICKETS])
    async with consuming(
        connection,
        [(names.decisions_queue, persist)],
        prefetch=settings.decision_prefetch,
        shutdown_timeout=settings.shutdown_timeout,
    ):
        yield
    with contextlib.suppress(Exception):
        await connection.close()


def create_app(settings: OrderSettings) -> web.Application:
    async def postgres_ready() -> None:
        await app[POOL].fetchval("SELECT 1")

    async def redis_ready() -> None:
        await app[TICKETS].ping()

    async def amqp_ready() -> None:
        check_amqp(app.get(AMQP))

    app = create_base_app(
        {"postgres": postgres_ready, "redis": redis_ready, "rabbitmq": amqp_ready},
        service="order_service",
        settings=settings,
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([token_verifier_ctx(settings), _postgres, _redis, _consumer])
    app.add_routes(routes)
    return app
