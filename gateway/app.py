"""Composition root of the gateway: build every dependency once, wire, run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from gateway.adapters.amqp_intents import AmqpIntentQueue
from gateway.adapters.http_upstream import Upstream
from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_idempotency import RedisIdempotencyKeys
from gateway.adapters.redis_pow import RedisProofOfWork
from gateway.adapters.redis_sales import SaleCache
from gateway.adapters.redis_tickets import RedisTicketRecords
from gateway.appkeys import (
    AMQP,
    AUTH,
    FEED,
    IDEMPOTENCY,
    INVENTORY,
    ORDERS,
    PROOF,
    PURCHASES,
    SALES,
    SETTINGS,
    TICKETS,
)
from gateway.domain import AdmissionLimits
from gateway.entrypoints import docs, webpage
from gateway.entrypoints.cors import cors_middleware, cors_stream_headers
from gateway.entrypoints.http import routes
from gateway.entrypoints.streams import SaleFeed
from gateway.entrypoints.updates import follow_updates
from gateway.handlers import Purchases
from gateway.settings import GatewaySettings
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names, declare_topology
from shared.runtime.resources import check_amqp, open_amqp, open_redis_of
from shared.runtime.service import create_base_app, token_verifier_ctx


async def _upstreams(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:

        def upstream(url: str, name: str) -> Upstream:
            return Upstream(
                session,
                url,
                name,
                timeout=settings.upstream_timeout,
                proxies=settings.forwarded_allow_ips,
            )

        app[AUTH] = upstream(settings.auth_url, "auth")
        app[INVENTORY] = upstream(settings.inventory_url, "inventory")
        app[ORDERS] = upstream(settings.order_url, "order")
        yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = await open_redis_of(settings)
    keys = Keys(settings.namespace)
    app[SALES] = SaleCache(client, keys, refresh_interval=settings.sale_refresh_seconds)
    app[TICKETS] = RedisTicketRecords(
        client, keys, TicketBoard(max_entries=settings.ticket_board_size)
    )
    app[IDEMPOTENCY] = RedisIdempotencyKeys(client, keys, ttl=settings.idempotency_ttl_seconds)
    app[FEED] = SaleFeed(app[SALES], interval=settings.sale_stream_interval)
    app[PROOF] = await RedisProofOfWork.open(
        client, keys, secret=settings.pow_secret, ttl_seconds=settings.pow_challenge_ttl_seconds
    )
    background = [
        asyncio.create_task(
            follow_updates(client, keys, sales=app[SALES], tickets=app[TICKETS].board)
        ),
        asyncio.create_task(app[SALES].refresh_forever()),
        asyncio.create_task(app[FEED].run()),
    ]
    yield
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await app[PROOF].close()
    await client.aclose()


async def _publisher(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    names = Names.of(settings)
    connection = await open_amqp(settings.amqp_url, name="gateway")
    app[AMQP] = connection
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    # Declared here too, so that a gateway started before the inventory service can route.
    topology = await declare_topology(channel, names)
    app[PURCHASES] = Purchases(
        sales=app[SALES],
        tickets=app[TICKETS],
        intents=AmqpIntentQueue(topology.intents, confirm_timeout=settings.publish_timeout),
        idempotency=app[IDEMPOTENCY],
        names=names,
        limits=AdmissionLimits(
            demand_factor=settings.admission_demand_factor,
            demand_slack=settings.admission_demand_slack,
            partition_max_waiting=settings.admission_partition_max_waiting,
        ),
        linger=settings.publish_linger_ms / 1000,
        max_batch=settings.publish_max_batch,
        proof=app[PROOF],
    )
    yield
    await app[PURCHASES].close()
    with contextlib.suppress(Exception):
        await connection.close()


async def _end_streams(app: web.Application) -> None:
    # Open event streams would hold the graceful shutdown until its timeout: end them; the
    # clients reconnect (to another replica) and get a fresh snapshot first.
    if FEED in app:
        app[FEED].closing.set()


def create_app(settings: GatewaySettings) -> web.Application:
    async def redis_ready() -> None:
        await app[TICKETS].ping()

    async def amqp_ready() -> None:
        check_amqp(app.get(AMQP))

    app = create_base_app(
        {"redis": redis_ready, "rabbitmq": amqp_ready},
        service="gateway",
        settings=settings,
        proxies=settings.forwarded_allow_ips,
    )
    # Outermost, so that error answers (made by the error middleware) are readable too; the
    # prepare hook covers the event streams, which send their headers from the handler. With
    # no origin allowed (the default) they would add nothing: not installed, one layer less.
    if settings.cors_allowed_origins:
        app.middlewares.insert(0, cors_middleware(settings.cors_allowed_origins))
        app.on_response_prepare.append(cors_stream_headers(settings.cors_allowed_origins))
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([token_verifier_ctx(settings), _upstreams, _redis, _publisher])
    app.on_shutdown.append(_end_streams)
    app.add_routes(routes)
    app.add_routes(docs.routes)
    app.add_routes(webpage.routes)
    return app
