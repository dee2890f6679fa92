"""Composition root of the order service: build every dependency once, wire, run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.adapters.postgres_payments import PostgresPayments
from order_service.adapters.postgres_report import PostgresSaleReport
from order_service.adapters.redis_tickets import RedisTicketFinaliser
from order_service.adapters.simulated_payments import SimulatedPaymentProvider
from order_service.appkeys import (
    AMQP,
    LINE,
    ORDERS,
    PAYMENTS,
    POOL,
    PROVIDER,
    REPORT,
    SETTINGS,
    TICKETS,
)
from order_service.entrypoints.consumers import decisions_handler
from order_service.entrypoints.http import routes
from order_service.handlers import expire_and_release, resume_open_payments
from order_service.settings import OrderSettings
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
    app[ORDERS] = PostgresOrders(pool)
    app[PAYMENTS] = PostgresPayments(pool)
    app[REPORT] = PostgresSaleReport(pool)
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = await open_redis_of(settings)
    app[TICKETS] = RedisTicketFinaliser(client, Keys(settings.namespace))
    yield
    await client.aclose()


async def _provider(app: web.Application) -> AsyncIterator[None]:
    """The payment provider; charges and refunds left unanswered by a crash are asked again."""
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        provider = SimulatedPaymentProvider(
            session,
            webhook_url=settings.webhook_url,
            secret=settings.webhook_secret,
            delay=settings.simulated_payment_delay,
            slow_delay=settings.simulated_slow_payment_seconds,
        )
        app[PROVIDER] = provider
        resumed = await resume_open_payments(payments=app[PAYMENTS], provider=provider)
        if resumed:
            log.info("open payments asked again", extra={"count": resumed})
        yield
        await provider.close()


async def _expiry(app: web.Application) -> AsyncIterator[None]:
    """Expire unpaid orders past their deadline and release their units, every interval."""

    async def sweep_forever() -> None:
        while True:
            try:
                await expire_and_release(
                    payments=app[PAYMENTS], tickets=app[TICKETS], line=app[LINE]
                )
            except DEPENDENCY_ERRORS as exc:
                log.warning("expiry sweep failed", extra={"error": f"{exc!r}"})
            await asyncio.sleep(app[SETTINGS].expiry_interval)

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _consumer(app: web.Application) -> AsyncIterator[None]:
    """Compete for the decisions queue with every other order service replica."""
    settings = app[SETTINGS]
    names = Names.of(settings)
    connection = await open_amqp(settings.amqp_url, name="order_service")
    app[AMQP] = connection
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    topology = await declare_topology(channel, names)
    app[LINE] = AmqpSaleLine(topology.intents, names, confirm_timeout=settings.publish_timeout)
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
    app.cleanup_ctx.extend(
        [token_verifier_ctx(settings), _postgres, _redis, _provider, _consumer, _expiry]
    )
    app.add_routes(routes)
    return app
