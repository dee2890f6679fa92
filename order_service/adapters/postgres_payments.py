"""Postgres adapter: payments, the provider's events, expiry of unpaid orders, and the
outbox of released units. Every change of an order's status happens here, under the order's
row lock and with the database's clock, so a payment and the expiry sweep cannot both win."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from order_service.domain import release_command_id, settle_success
from order_service.payments import Charge, Refund, WebhookEvent
from shared.contracts.errors import Conflict, NotFound


@dataclass(frozen=True)
class Payment:
    payment_id: UUID
    order_id: UUID
    status: str
    amount: int
    currency: str
    payment_method: str
    failure_code: str | None

    def object(self) -> dict[str, Any]:
        """The payment object of the API."""
        return {
            "payment_id": str(self.payment_id),
            "order_id": str(self.order_id),
            "status": self.status,
            "amount": {"amount": self.amount, "currency": self.currency},
            "payment_method": self.payment_method,
            "failure_code": self.failure_code,
        }

    def charge(self) -> Charge:
        return Charge(
            self.payment_id, self.order_id, self.amount, self.currency, self.payment_method
        )

    def refund(self) -> Refund:
        return Refund(self.payment_id, self.order_id, self.amount, self.currency)


@dataclass(frozen=True)
class OrderChange:
    """An order that moved on: its ticket shows the new status."""

    order_id: UUID
    ticket_id: UUID
    status: str


@dataclass(frozen=True)
class EventOutcome:
    changes: tuple[OrderChange, ...] = ()
    refund: Refund | None = None


@dataclass(frozen=True)
class Release:
    command_id: UUID
    order_id: UUID
    ticket_id: UUID
    sale_id: UUID
    user_id: UUID


# What the queries here run on: a connection of the pool, inside a transaction.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class WebhookRefused(Exception):
    """An event that must change nothing: replayed, or about a payment we do not know."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _payment(row: asyncpg.Record) -> Payment:
    return Payment(
        payment_id=row["payment_id"],
        order_id=row["order_id"],
        status=row["status"],
        amount=row["amount"],
        currency=row["currency"],
        payment_method=row["payment_method"],
        failure_code=row["failure_code"],
    )


class PostgresPayments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(
        self,
        order_id: UUID,
        user_id: UUID,
        *,
        payment_method: str,
        provider: str,
        idempotency_key: str | None,
    ) -> tuple[Payment, bool]:
        """A new charge of the order at its own price (never the client's), or the one the
        same Idempotency-Key made; (payment, created)."""
        async with self._pool.acquire() as conn, conn.transaction():
            order = await conn.fetchrow(
                "SELECT user_id, status, price_amount, currency, pay_by <= now() AS late"
                " FROM orders WHERE order_id = $1 FOR UPDATE",
                order_id,
            )
            if order is None or order["user_id"] != user_id:
                raise NotFound("no such order", code="no_such_order")
            if idempotency_key is not None:
                earlier = await conn.fetchrow(
                    "SELECT payment_id, order_id, status, amount, currency, payment_method,"
                    " failure_code FROM payments WHERE order_id = $1 AND idempotency_key = $2",
                    order_id,
                    idempotency_key,
                )
                if earlier is not None:
                    return _payment(earlier), False
            if order["status"] != "awaiting_payment" or order["late"]:
                status = "expired" if order["late"] else order["status"]
                raise Conflict(
                    f"the order is {status.replace('_', ' ')}: it cannot be paid",
                    code="already_paid" if status == "paid" else "order_not_payable",
                )
            live = await conn.fetchval(
                "SELECT status FROM payments WHERE order_id = $1 AND status <> 'failed'",
                order_id,
            )
            if live is not None:
                raise Conflict(
                    "a payment of this order is already being processed",
                    code="payment_in_progress",
                )
            row = await conn.fetchrow(
                "INSERT INTO payments (payment_id, order_id, user_id, amount, currency,"
                " payment_method, provider, idempotency_key, status)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'processing')"
                " RETURNING payment_id, order_id, status, amount, currency, payment_method,"
                " failure_code",
                uuid4(),
                order_id,
                user_id,
                order["price_amount"],
                order["currency"],
                payment_method,
                provider,
                idempotency_key,
            )
            assert row is not None  # INSERT ... RETURNING always returns the row
            return _payment(row), True

    async def fail(self, payment_id: UUID, code: str) -> None:
        """The provider could not be asked: the charge never happened."""
        await self._pool.execute(
            "UPDATE payments SET status = 'failed', failure_code = $2, updated_at = now()"
            " WHERE payment_id = $1 AND status = 'processing'",
            payment_id,
            code,
        )

    async def apply(self, event: WebhookEvent) -> EventOutcome:
        """Apply a provider's event once; WebhookRefused (nothing changed) for a replay or a
        payment that does not match ours."""
        data = event.data
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO payment_events (event_id, type, payment_id) VALUES ($1, $2, $3)"
                " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                event.id,
                event.type,
                data.payment_id,
            )
            if inserted is None:
                raise WebhookRefused("webhook_replayed", "this event was already received")
            # The order first, then the payment: the order every path locks them in.
            order = await conn.fetchrow(
                "SELECT ticket_id, status, pay_by, now() AS now FROM orders"
                " WHERE order_id = $1 FOR UPDATE",
                data.order_id,
            )
            payment = await conn.fetchrow(
                "SELECT payment_id, order_id, status, amount, currency, payment_method,"
                " failure_code FROM payments WHERE payment_id = $1 FOR UPDATE",
                data.payment_id,
            )
            if (
                order is None
                or payment is None
                or payment["order_id"] != data.order_id
                or (payment["amount"], payment["currency"]) != (data.amount, data.currency)
            ):
                raise WebhookRefused("webhook_mismatch", "the event matches no payment of ours")
            ours = _payment(payment)
            if event.type == "payment.failed":
                await self._set_payment(
                    conn, ours.payment_id, "processing", "failed", data.failure_code
                )
                return EventOutcome()
            if event.type == "refund.succeeded":
                if not await self._set_payment(conn, ours.payment_id, "refund_pending", "refunded"):
                    return EventOutcome()
                changed = await conn.fetchval(
                    "UPDATE orders SET status = 'refunded', refunded_at = now()"
                    " WHERE order_id = $1 AND status = 'expired' RETURNING order_id",
                    data.order_id,
                )
                if changed is None:
                    return EventOutcome()
                return EventOutcome((OrderChange(data.order_id, order["ticket_id"], "refunded"),))
            # payment.succeeded: a charge we asked for went through.
            if ours.status != "processing":
                return EventOutcome()  # already settled (a resumed charge's second answer)
            outcome = settle_success(order["status"], order["pay_by"], order["now"])
            if outcome == "paid":
                await self._set_payment(conn, ours.payment_id, "processing", "succeeded")
                await conn.execute(
                    "UPDATE orders SET status = 'paid', paid_at = now() WHERE order_id = $1",
                    data.order_id,
                )
                return EventOutcome((OrderChange(data.order_id, order["ticket_id"], "paid"),))
            await self._set_payment(conn, ours.payment_id, "processing", "refund_pending")
            changes: tuple[OrderChange, ...] = ()
            if outcome == "expire_and_refund":
                await _expire(conn, [data.order_id])
                changes = (OrderChange(data.order_id, order["ticket_id"], "expired"),)
            return EventOutcome(changes, ours.refund())

    @staticmethod
    async def _set_payment(
        conn: Conn, payment_id: UUID, old: str, new: str, code: str | None = None
    ) -> bool:
        changed = await conn.fetchval(
            "UPDATE payments SET status = $3, failure_code = coalesce($4, failure_code),"
            " updated_at = now() WHERE payment_id = $1 AND status = $2 RETURNING payment_id",
            payment_id,
            old,
            new,
            code,
        )
        return changed is not None

    async def expire_due(self, limit: int = 500) -> list[OrderChange]:
        """Expire unpaid orders past their deadline, each with its release in the outbox, in
        one transaction; rows a payment holds are skipped now and seen next sweep."""
        async with self._pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                "SELECT order_id FROM orders WHERE status = 'awaiting_payment' AND pay_by <= now()"
                " ORDER BY pay_by LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            if not due:
                return []
            return await _expire(conn, [r["order_id"] for r in due])

    async def unpublished_releases(self, limit: int = 500) -> list[Release]:
        rows = await self._pool.fetch(
            "SELECT command_id, order_id, ticket_id, sale_id, user_id FROM releases"
            " WHERE published_at IS NULL ORDER BY created_at LIMIT $1",
            limit,
        )
        return [Release(**dict(r)) for r in rows]

    async def mark_published(self, order_ids: Sequence[UUID]) -> None:
        await self._pool.execute(
            "UPDATE releases SET published_at = now() WHERE order_id = ANY($1::uuid[])",
            list(order_ids),
        )

    async def payments_of(self, order_id: UUID, user_id: UUID) -> list[Payment] | None:
        """The order's payments, oldest first, if it is the user's (else None: not found)."""
        async with self._pool.acquire() as conn:
            owner = await conn.fetchval("SELECT user_id FROM orders WHERE order_id = $1", order_id)
            if owner != user_id:
                return None
            rows = await conn.fetch(
                "SELECT payment_id, order_id, status, amount, currency, payment_method,"
                " failure_code FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id",
                order_id,
            )
        return [_payment(r) for r in rows]

    async def open_payments(self) -> list[Payment]:
        """Charges and refunds asked for and not yet answered (to ask again after a restart)."""
        rows = await self._pool.fetch(
            "SELECT payment_id, order_id, status, amount, currency, payment_method,"
            " failure_code FROM payments WHERE status IN ('processing', 'refund_pending')"
        )
        return [_payment(r) for r in rows]


async def _expire(conn: Conn, order_ids: list[UUID]) -> list[OrderChange]:
    """Expire the (locked) orders and put each one's release in the outbox."""
    rows = await conn.fetch(
        "UPDATE orders SET status = 'expired', expired_at = now()"
        " WHERE order_id = ANY($1::uuid[]) AND status = 'awaiting_payment'"
        " RETURNING order_id, ticket_id, sale_id, user_id",
        order_ids,
    )
    await conn.execute(
        "INSERT INTO releases (order_id, command_id, ticket_id, sale_id, user_id)"
        " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[])"
        " ON CONFLICT (order_id) DO NOTHING",
        [r["order_id"] for r in rows],
        [release_command_id(r["order_id"]) for r in rows],
        [r["ticket_id"] for r in rows],
        [r["sale_id"] for r in rows],
        [r["user_id"] for r in rows],
    )
    return [OrderChange(r["order_id"], r["ticket_id"], "expired") for r in rows]
