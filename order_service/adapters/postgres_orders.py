"""Postgres adapter: tickets and orders, written in one transaction per batch, and read back
as the API's order objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from order_service.domain import Outcome, order_status_of

# unnest() turns column arrays into rows: a whole batch in one statement and one round trip.
_INSERT_TICKETS = """
INSERT INTO tickets (ticket_id, sale_id, user_id, status, reason, decided_at, requested_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::timestamptz[])
ON CONFLICT (ticket_id) DO NOTHING
"""
_INSERT_ORDERS = """
INSERT INTO orders (order_id, ticket_id, sale_id, user_id, created_at, status, product_id,
                    price_amount, currency, pay_by, paid_at)
SELECT o, t, s, u, c, st, p, a, cur, pb, CASE WHEN st = 'paid' THEN c END
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::text[],
            $7::uuid[], $8::bigint[], $9::text[], $10::timestamptz[])
     AS x(o, t, s, u, c, st, p, a, cur, pb)
ON CONFLICT (ticket_id) DO NOTHING
"""
# The order object of the API, with its product (read through the inventory's view).
_ORDERS_OF_USER = """
SELECT o.order_id, o.ticket_id, o.sale_id, o.status, o.price_amount, o.currency, o.pay_by,
       o.paid_at, o.expired_at, o.refunded_at, o.created_at, o.user_id,
       p.product_id, p.name, p.description, p.image_url,
       p.price_amount AS list_amount, p.currency AS list_currency
FROM orders o LEFT JOIN product_catalog p ON p.product_id = o.product_id
WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.order_id LIMIT $2
"""
_ORDER = """
SELECT o.order_id, o.ticket_id, o.sale_id, o.status, o.price_amount, o.currency, o.pay_by,
       o.paid_at, o.expired_at, o.refunded_at, o.created_at, o.user_id,
       p.product_id, p.name, p.description, p.image_url,
       p.price_amount AS list_amount, p.currency AS list_currency
FROM orders o LEFT JOIN product_catalog p ON p.product_id = o.product_id
WHERE o.order_id = $1
"""


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def order_object(row: asyncpg.Record) -> dict[str, Any]:
    """The order object of the API."""
    product = None
    if row["product_id"] is not None:
        product = {
            "product_id": str(row["product_id"]),
            "name": row["name"],
            "description": row["description"],
            "image_url": row["image_url"],
            "price": {"amount": row["list_amount"], "currency": row["list_currency"]},
        }
    return {
        "order_id": str(row["order_id"]),
        "ticket_id": str(row["ticket_id"]),
        "sale_id": str(row["sale_id"]),
        "product": product,
        "price": {"amount": row["price_amount"], "currency": row["currency"]},
        "status": row["status"],
        "pay_by": _iso(row["pay_by"]),
        "paid_at": _iso(row["paid_at"]),
        "expired_at": _iso(row["expired_at"]),
        "refunded_at": _iso(row["refunded_at"]),
        "created_at": _iso(row["created_at"]),
    }


class PostgresOrders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def persist(self, outcomes: Sequence[Outcome]) -> None:
        """Write tickets and orders of a batch atomically; rows already there are kept."""
        orders = [o for o in outcomes if o.order_id is not None and o.terms is not None]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _INSERT_TICKETS,
                [o.ticket_id for o in outcomes],
                [o.sale_id for o in outcomes],
                [o.user_id for o in outcomes],
                [o.status for o in outcomes],
                [o.reason for o in outcomes],
                [o.decided_at for o in outcomes],
                [o.requested_at for o in outcomes],
            )
            if orders:
                terms = [o.terms for o in orders if o.terms is not None]
                await conn.execute(
                    _INSERT_ORDERS,
                    [o.order_id for o in orders],
                    [o.ticket_id for o in orders],
                    [o.sale_id for o in orders],
                    [o.user_id for o in orders],
                    [o.decided_at for o in orders],
                    [order_status_of(t) for t in terms],
                    [t.product_id for t in terms],
                    [t.price_amount for t in terms],
                    [t.currency for t in terms],
                    [t.pay_by for t in terms],
                )

    async def orders_of(self, user_id: UUID, limit: int) -> list[dict[str, Any]]:
        """The user's orders, newest first, as API objects."""
        rows = await self._pool.fetch(_ORDERS_OF_USER, user_id, limit)
        return [order_object(r) for r in rows]

    async def order_of(self, order_id: UUID, user_id: UUID) -> dict[str, Any] | None:
        """One order as an API object, if it is the user's (else None: not found)."""
        row = await self._pool.fetchrow(_ORDER, order_id)
        if row is None or row["user_id"] != user_id:
            return None
        return order_object(row)
