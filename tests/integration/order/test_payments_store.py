"""PostgresPayments: charges at the order's price, provider events applied once, expiry with a
release outbox, and paid-vs-expired decided once under the order's row lock."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import asyncpg
import pytest

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.adapters.postgres_payments import (
    OrderChange,
    Payment,
    PostgresPayments,
    WebhookRefused,
)
from order_service.domain import order_id_for, outcomes_of, release_command_id
from order_service.payments import EventType, Refund, WebhookData, WebhookEvent
from shared.contracts.errors import Conflict, NotFound
from shared.contracts.messages import PurchaseAccepted
from shared.contracts.sales import now_ms

pytestmark = pytest.mark.integration

PRICE, CURRENCY = 4_999, "EUR"
VISA = "pm_card_visa"


async def new_order(
    pg: asyncpg.Pool, user_id: UUID | None = None, *, pay_in_ms: int = 600_000
) -> PurchaseAccepted:
    """An accepted purchase persisted as an order awaiting payment until now + pay_in_ms."""
    event = PurchaseAccepted(
        ticket_id=uuid4(),
        sale_id=uuid4(),
        user_id=user_id or uuid4(),
        decided_at_ms=now_ms(),
        product_id=uuid4(),
        price_amount=PRICE,
        currency=CURRENCY,
        pay_by_ms=now_ms() + pay_in_ms,
    )
    await PostgresOrders(pg).persist(outcomes_of([event]))
    return event


def event_of(kind: EventType, payment: Payment, **data: object) -> WebhookEvent:
    """The provider's event about ``payment``; ``data`` overrides what it says."""
    fields: dict[str, object] = {
        "payment_id": payment.payment_id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        **data,
    }
    return WebhookEvent(
        id=f"evt_{uuid4().hex}",
        type=kind,
        created=now_ms() // 1000,
        data=WebhookData.model_validate(fields),
    )


async def start(payments: PostgresPayments, bought: PurchaseAccepted, key: str | None = None):
    return await payments.start(
        order_id_for(bought.ticket_id),
        bought.user_id,
        payment_method=VISA,
        provider="simulated",
        idempotency_key=key,
    )


async def order_row(pg: asyncpg.Pool, order_id: UUID) -> dict:
    row = await pg.fetchrow(
        "SELECT status, pay_by, paid_at, expired_at, refunded_at FROM orders WHERE order_id = $1",
        order_id,
    )
    assert row is not None
    return dict(row)


async def payment_status(pg: asyncpg.Pool, payment_id: UUID) -> str:
    return str(await pg.fetchval("SELECT status FROM payments WHERE payment_id = $1", payment_id))


async def releases(pg: asyncpg.Pool) -> dict[UUID, dict]:
    rows = await pg.fetch("SELECT * FROM releases")
    return {r["order_id"]: dict(r) for r in rows}


async def pass_deadline(pg: asyncpg.Pool, order_id: UUID) -> None:
    """The order's pay_by passes (on the database's clock, the one that decides)."""
    await pg.execute(
        "UPDATE orders SET pay_by = now() - interval '1 second' WHERE order_id = $1", order_id
    )


async def snapshot(pg: asyncpg.Pool) -> tuple:
    return (
        [tuple(r) for r in await pg.fetch("SELECT * FROM orders ORDER BY order_id")],
        [tuple(r) for r in await pg.fetch("SELECT * FROM payments ORDER BY payment_id")],
        [tuple(r) for r in await pg.fetch("SELECT * FROM releases ORDER BY order_id")],
    )


async def test_a_charge_is_at_the_orders_price_and_once_per_idempotency_key(pg):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    order_id = order_id_for(bought.ticket_id)
    payment, created = await start(payments, bought, key="pay-1")
    assert created
    assert (payment.order_id, payment.status, payment.amount, payment.currency) == (
        order_id,
        "processing",
        PRICE,
        CURRENCY,
    )
    assert payment.payment_method == VISA and payment.failure_code is None
    assert await start(payments, bought, key="pay-1") == (payment, False)
    # Someone else's order is not found, whatever key they send.
    for key in ("pay-1", None):
        with pytest.raises(NotFound) as missing:
            await payments.start(
                order_id, uuid4(), payment_method=VISA, provider="simulated", idempotency_key=key
            )
        assert missing.value.code == "no_such_order"
    # One live charge per order.
    for key in ("pay-2", None):
        with pytest.raises(Conflict) as busy:
            await start(payments, bought, key=key)
        assert busy.value.code == "payment_in_progress"
    assert await pg.fetchval("SELECT count(*) FROM payments") == 1
    assert await payments.open_payments() == [payment]


async def test_a_success_before_pay_by_pays_the_order_once(pg):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    order_id = order_id_for(bought.ticket_id)
    payment, _ = await start(payments, bought)
    success = event_of("payment.succeeded", payment)
    outcome = await payments.apply(success)
    assert outcome.changes == (OrderChange(order_id, bought.ticket_id, "paid"),)
    assert outcome.refund is None
    order = await order_row(pg, order_id)
    assert order["status"] == "paid" and order["paid_at"] is not None
    assert order["paid_at"] < order["pay_by"]
    assert await payment_status(pg, payment.payment_id) == "succeeded"
    before = await snapshot(pg)
    with pytest.raises(WebhookRefused) as replayed:
        await payments.apply(success)
    assert replayed.value.code == "webhook_replayed"
    assert await snapshot(pg) == before
    # A second answer about the same charge (a new event id) settles nothing more.
    assert await payments.apply(event_of("payment.succeeded", payment)) == type(outcome)()
    assert await snapshot(pg) == before
    with pytest.raises(Conflict) as paid:
        await start(payments, bought, key="again")
    assert paid.value.code == "already_paid"
    assert await payments.expire_due() == []
    assert await releases(pg) == {}


@pytest.mark.parametrize(
    "wrong",
    [
        {"amount": PRICE - 1},
        {"amount": 0},
        {"currency": "USD"},
        {"order_id": "other order"},
        {"payment_id": "unknown"},
    ],
    ids=["amount", "zero", "currency", "order", "payment"],
)
async def test_an_event_that_does_not_match_our_payment_is_refused_and_changes_nothing(pg, wrong):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    other = await new_order(pg)
    payment, _ = await start(payments, bought)
    ids = {"other order": order_id_for(other.ticket_id), "unknown": uuid4()}
    data = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in wrong.items()}
    before = await snapshot(pg)
    forged = event_of("payment.succeeded", payment, **data)
    with pytest.raises(WebhookRefused) as refused:
        await payments.apply(forged)
    assert refused.value.code == "webhook_mismatch"
    assert await snapshot(pg) == before
    # Not even remembered: the event id stays free (nothing was applied under it).
    assert await pg.fetchval("SELECT count(*) FROM payment_events") == 0
    # The true answer is still taken.
    outcome = await payments.apply(event_of("payment.succeeded", payment))
    assert [c.status for c in outcome.changes] == ["paid"]


async def test_a_failed_payment_leaves_the_order_awaiting_and_payable_again(pg):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    order_id = order_id_for(bought.ticket_id)
    declined, _ = await start(payments, bought, key="first")
    outcome = await payments.apply(
        event_of("payment.failed", declined, failure_code="card_declined")
    )
    assert (outcome.changes, outcome.refund) == ((), None)
    row = await pg.fetchrow(
        "SELECT status, failure_code FROM payments WHERE payment_id = $1", declined.payment_id
    )
    assert tuple(row) == ("failed", "card_declined")
    order = await order_row(pg, order_id)
    assert (order["status"], order["paid_at"]) == ("awaiting_payment", None)
    # The same key still names the failed payment; a new one charges again.
    earlier, created = await start(payments, bought, key="first")
    assert not created and earlier.status == "failed"
    retry, created = await start(payments, bought, key="second")
    assert created and retry.payment_id != declined.payment_id and retry.status == "processing"
    assert [
        c.status for c in (await payments.apply(event_of("payment.succeeded", retry))).changes
    ] == ["paid"]


async def test_expire_due_expires_only_orders_past_pay_by_each_with_one_release(pg):
    payments = PostgresPayments(pg)
    late = [await new_order(pg, pay_in_ms=-1_000) for _ in range(3)]
    early = [await new_order(pg) for _ in range(2)]
    # Paid in time, then its deadline passed: paid stays paid.
    paid = await new_order(pg)
    payment, _ = await start(payments, paid)
    await payments.apply(event_of("payment.succeeded", payment))
    await pass_deadline(pg, order_id_for(paid.ticket_id))

    changes = await payments.expire_due()
    assert sorted(changes, key=lambda c: str(c.order_id)) == sorted(
        (OrderChange(order_id_for(b.ticket_id), b.ticket_id, "expired") for b in late),
        key=lambda c: str(c.order_id),
    )
    outbox = await releases(pg)
    assert set(outbox) == {order_id_for(b.ticket_id) for b in late}
    for b in late:
        row = outbox[order_id_for(b.ticket_id)]
        assert row["command_id"] == release_command_id(order_id_for(b.ticket_id))
        assert (row["ticket_id"], row["sale_id"], row["user_id"]) == (
            b.ticket_id,
            b.sale_id,
            b.user_id,
        )
        assert row["published_at"] is None
        order = await order_row(pg, order_id_for(b.ticket_id))
        assert order["status"] == "expired" and order["expired_at"] >= order["pay_by"]
    for b in early:
        assert (await order_row(pg, order_id_for(b.ticket_id)))["status"] == "awaiting_payment"
    assert (await order_row(pg, order_id_for(paid.ticket_id)))["status"] == "paid"
    # A second sweep finds nothing; the outbox is published once.
    assert await payments.expire_due() == []
    assert len(await releases(pg)) == 3
    unpublished = await payments.unpublished_releases()
    assert {r.command_id for r in unpublished} == {r["command_id"] for r in outbox.values()}
    await payments.mark_published([r.order_id for r in unpublished])
    assert await payments.unpublished_releases() == []
    # An expired order cannot be paid.
    with pytest.raises(Conflict) as gone:
        await start(payments, late[0])
    assert gone.value.code == "order_not_payable"


async def test_a_success_after_the_sweep_is_refunded_and_the_order_stays_expired(pg):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    order_id = order_id_for(bought.ticket_id)
    payment, _ = await start(payments, bought)
    await pass_deadline(pg, order_id)
    assert [c.status for c in await payments.expire_due()] == ["expired"]

    outcome = await payments.apply(event_of("payment.succeeded", payment))
    assert outcome.changes == ()
    assert outcome.refund == Refund(payment.payment_id, order_id, PRICE, CURRENCY)
    order = await order_row(pg, order_id)
    assert (order["status"], order["paid_at"]) == ("expired", None)
    assert await payment_status(pg, payment.payment_id) == "refund_pending"
    assert await payments.open_payments() == [
        Payment(payment.payment_id, order_id, "refund_pending", PRICE, CURRENCY, VISA, None)
    ]

    refunded = await payments.apply(event_of("refund.succeeded", payment))
    assert refunded.changes == (OrderChange(order_id, bought.ticket_id, "refunded"),)
    assert refunded.refund is None
    order = await order_row(pg, order_id)
    assert order["status"] == "refunded" and order["refunded_at"] is not None
    assert await payment_status(pg, payment.payment_id) == "refunded"
    assert await payments.open_payments() == []
    # A second refund answer (new id) changes nothing; the unit was released once.
    before = await snapshot(pg)
    assert (await payments.apply(event_of("refund.succeeded", payment))).changes == ()
    assert await snapshot(pg) == before
    assert list(await releases(pg)) == [order_id]


async def test_a_success_after_pay_by_before_the_sweep_expires_and_refunds(pg):
    payments = PostgresPayments(pg)
    bought = await new_order(pg)
    order_id = order_id_for(bought.ticket_id)
    payment, _ = await start(payments, bought)
    await pass_deadline(pg, order_id)

    outcome = await payments.apply(event_of("payment.succeeded", payment))
    assert outcome.changes == (OrderChange(order_id, bought.ticket_id, "expired"),)
    assert outcome.refund == Refund(payment.payment_id, order_id, PRICE, CURRENCY)
    order = await order_row(pg, order_id)
    assert (order["status"], order["paid_at"]) == ("expired", None)
    assert order["expired_at"] is not None
    assert await payment_status(pg, payment.payment_id) == "refund_pending"
    outbox = await releases(pg)
    assert list(outbox) == [order_id]
    assert outbox[order_id]["command_id"] == release_command_id(order_id)
    # The sweep comes later and finds nothing left to do.
    assert await payments.expire_due() == []
    assert list(await releases(pg)) == [order_id]


async def test_paid_and_expired_race_and_exactly_one_wins_each_order(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=24, max_size=24)
    try:
        payments = PostgresPayments(pool)
        bought = [await new_order(pool) for _ in range(50)]
        order_ids = [order_id_for(b.ticket_id) for b in bought]
        started = {b.ticket_id: (await start(payments, b))[0] for b in bought}
        # Deadlines 4 ms apart around now: the first half has passed already, the rest
        # passes while the sweeps and the payments run (one connection each, warmed up).
        await pool.executemany(
            "UPDATE orders SET pay_by = now() + $2 * interval '1 millisecond' WHERE order_id = $1",
            [(order_id, 4 * i - 100) for i, order_id in enumerate(order_ids)],
        )
        passed = set(order_ids[:25])

        async def sweeps() -> list[OrderChange]:
            changes: list[OrderChange] = []
            for _ in range(10):
                changes += await payments.expire_due()
                await asyncio.sleep(0.005)
            return changes

        sweeping = asyncio.gather(sweeps(), sweeps())
        paying = asyncio.gather(
            *(payments.apply(event_of("payment.succeeded", started[b.ticket_id])) for b in bought)
        )
        (first, second), applied = await asyncio.gather(sweeping, paying)
        swept = first + second
        outcomes = dict(zip(order_ids, applied, strict=True))
        while more := await payments.expire_due():  # whatever is left past its deadline
            swept += more

        outbox = await releases(pool)
        expired_by_sweep = [c.order_id for c in swept]
        assert len(expired_by_sweep) == len(set(expired_by_sweep)), "an order expired twice"
        expired: set[UUID] = set()
        for b, order_id in zip(bought, order_ids, strict=True):
            order = await order_row(pool, order_id)
            outcome = outcomes[order_id]
            payment = await payment_status(pool, started[b.ticket_id].payment_id)
            if order["status"] == "paid":
                assert order["paid_at"] < order["pay_by"] and order["expired_at"] is None
                assert payment == "succeeded" and outcome.refund is None
                assert order_id not in outbox and order_id not in expired_by_sweep
                assert order_id not in passed, "paid after its deadline"
            else:
                assert order["status"] == "expired", order
                expired.add(order_id)
                assert order["paid_at"] is None and order["expired_at"] >= order["pay_by"]
                assert payment == "refund_pending" and outcome.refund is not None
                assert outbox[order_id]["command_id"] == release_command_id(order_id)
                # Expired by the sweep or by the late payment, never both.
                by_payment = [c.status for c in outcome.changes] == ["expired"]
                assert by_payment != (order_id in expired_by_sweep), order_id
        assert set(outbox) == expired
        assert passed <= expired
    finally:
        await pool.close()
