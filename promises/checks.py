"""The promises, checked in Redis and Postgres after a scenario or a bench phase."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from shared.contracts.redis_layout import Keys


@dataclass
class Outcome:
    stock: int
    remaining: int
    accepted: int
    rejected: int
    confirmed: int
    final: int
    orders: int
    max_per_user: int
    pending: list[str]


async def wait_until_final(
    redis_client: aioredis.Redis, keys: Keys, ticket_ids: Sequence[UUID], *, timeout: float
) -> list[str]:
    """Poll the ticket records until all are confirmed or rejected; return the stragglers."""
    deadline = time.monotonic() + timeout
    pending = [str(t) for t in ticket_ids]
    while pending and time.monotonic() < deadline:
        async with redis_client.pipeline(transaction=False) as pipe:
            for t in pending:
                pipe.hget(keys.ticket(t), "status")
            statuses = await pipe.execute()
        pending = [
            t for t, s in zip(pending, statuses, strict=True) if s not in ("confirmed", "rejected")
        ]
        if pending:
            await asyncio.sleep(0.1)
    return pending


async def outcome(
    redis_client: aioredis.Redis,
    keys: Keys,
    database_url: str,
    sale_id: UUID,
    ticket_ids: Sequence[UUID],
    *,
    timeout: float = 60,
) -> Outcome:
    pending = await wait_until_final(redis_client, keys, ticket_ids, timeout=timeout)
    sale = await redis_client.hgetall(keys.sale(sale_id))
    async with redis_client.pipeline(transaction=False) as pipe:
        for t in ticket_ids:
            pipe.hget(keys.ticket(t), "status")
        statuses = Counter(await pipe.execute())
    conn = await asyncpg.connect(database_url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders WHERE sale_id = $1", sale_id)
        max_per_user = await conn.fetchval(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM orders"
            " WHERE sale_id = $1 GROUP BY user_id) per_user",
            sale_id,
        )
        confirmed_rows = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE sale_id = $1 AND status = 'confirmed'", sale_id
        )
    finally:
        await conn.close()
    if confirmed_rows != orders:
        raise AssertionError(f"{confirmed_rows} confirmed ticket rows but {orders} orders")
    return Outcome(
        stock=int(sale["stock"]),
        remaining=int(sale["remaining"]),
        accepted=int(sale["accepted"]),
        rejected=int(sale["rejected"]),
        confirmed=statuses["confirmed"],
        final=statuses["confirmed"] + statuses["rejected"],
        orders=orders,
        max_per_user=max_per_user,
        pending=pending,
    )


def violations(result: Outcome, *, tickets: int, per_user_limit: int) -> list[str]:
    """What breaks a promise: oversell, duplicates beyond the limit, lost or stuck tickets,
    orders that do not match confirmed tickets. Empty when all hold."""
    found = []
    if result.pending:
        found.append(f"{len(result.pending)} tickets never became final")
    if result.final != tickets:
        found.append(f"{result.final} of {tickets} tickets are final")
    if result.orders > result.stock:
        found.append(f"oversold: {result.orders} orders for a stock of {result.stock}")
    if result.remaining != result.stock - result.accepted:
        found.append(
            f"remaining {result.remaining} != stock {result.stock} - accepted {result.accepted}"
        )
    if not result.accepted == result.confirmed == result.orders:
        found.append(
            f"accepted {result.accepted}, confirmed {result.confirmed}, orders {result.orders}"
        )
    if result.accepted + result.rejected != tickets:
        found.append(f"decided {result.accepted + result.rejected} of {tickets} tickets")
    if result.max_per_user > per_user_limit:
        found.append(f"a user has {result.max_per_user} orders (limit {per_user_limit})")
    return found
