"""A purchase is one Postgres transaction: decrement the hot stock row, insert the order.

This is what the engine replaces. The UPDATE's row lock serialises every buyer of a sale
behind one row, and each request holds a connection for its whole transaction. It is kept
honest: the JWT is verified (RS256, no cache) on every request, the per-user limit is
checked under the lock, and it is served on the same event loop (uvloop) as the engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import jwt
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
KEYS = web.AppKey("keys", dict)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline_sales (
    sale_id uuid PRIMARY KEY, stock integer NOT NULL, per_user_limit integer NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline_orders (
    order_id uuid PRIMARY KEY, sale_id uuid NOT NULL, user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS baseline_orders_buyer ON baseline_orders (sale_id, user_id);
"""


async def _resources(app: web.Application) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=10, max_size=int(os.environ.get("POOL_SIZE", "20"))
    )
    await pool.execute(_SCHEMA)
    async with (
        aiohttp.ClientSession() as session,
        session.get(os.environ["AUTH_URL"] + "/.well-known/jwks.json") as resp,
    ):
        jwks = await resp.text()
    app[KEYS] = {k.key_id: k.key for k in jwt.PyJWKSet.from_json(jwks).keys}
    app[POOL] = pool
    yield
    await pool.close()


def _claims(request: web.Request) -> dict[str, Any]:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        key = request.app[KEYS][jwt.get_unverified_header(token)["kid"]]
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=os.environ.get("JWT_AUDIENCE", "flashsale"),
            issuer=os.environ.get("JWT_ISSUER", "flashsale-auth"),
        )
    except (jwt.PyJWTError, KeyError) as exc:
        raise web.HTTPUnauthorized() from exc


async def create_sale(request: web.Request) -> web.Response:
    body = await request.json()
    sale_id = uuid.uuid4()
    await request.app[POOL].execute(
        "INSERT INTO baseline_sales VALUES ($1, $2, $3)",
        sale_id,
        body["stock"],
        body.get("per_user_limit", 1),
    )
    return web.json_response({"sale_id": str(sale_id)}, status=201)


async def purchase(request: web.Request) -> web.Response:
    user_id = uuid.UUID(_claims(request)["sub"])
    sale_id = uuid.UUID(request.match_info["sale_id"])
    async with request.app[POOL].acquire() as conn, conn.transaction():
        limit = await conn.fetchval(
            "UPDATE baseline_sales SET stock = stock - 1 WHERE sale_id = $1 AND stock > 0"
            " RETURNING per_user_limit",
            sale_id,
        )
        if limit is None:
            return web.json_response({"error": {"code": "sold_out"}}, status=409)
        bought = await conn.fetchval(
            "SELECT count(*) FROM baseline_orders WHERE sale_id = $1 AND user_id = $2",
            sale_id,
            user_id,
        )
        if bought >= limit:
            # Give the unit back: the whole transaction rolls back.
            raise _LimitReached()
        order_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO baseline_orders (order_id, sale_id, user_id) VALUES ($1, $2, $3)",
            order_id,
            sale_id,
            user_id,
        )
    return web.json_response({"order_id": str(order_id), "status": "confirmed"}, status=201)


class _LimitReached(Exception):
    pass


@web.middleware
async def _limit_reached(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _LimitReached:
        return web.json_response({"error": {"code": "limit_reached"}}, status=409)


def create_app() -> web.Application:
    app = web.Application(middlewares=[_limit_reached])
    app.cleanup_ctx.append(_resources)
    app.add_routes(
        [
            web.post("/baseline/sales", create_sale),
            web.post("/baseline/sales/{sale_id}/purchases", purchase),
            web.get("/readyz", _ready),
        ]
    )
    return app


async def _ready(_: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})
