"""The order service runs the expiries and takes the payments: killed (SIGKILL) in the middle
of either, and restarted, every order still reaches exactly one final state."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ORDERS, WINDOW, SLOW = 120, 5, 1.5


@pytest.fixture
def stack_env(stack_env):
    # The sweep runs often, so the kill lands inside a wave of expiries.
    return {**stack_env, "EXPIRY_INTERVAL": "0.05", "SIMULATED_SLOW_PAYMENT_SECONDS": str(SLOW)}


async def until_settled(conn: asyncpg.Connection, sale_id: str, within: float = 60) -> None:
    """No order left awaiting payment and no payment left unanswered."""
    deadline = time.monotonic() + within
    while True:
        open_ = await conn.fetchval(
            "SELECT (SELECT count(*) FROM orders"
            "    WHERE sale_id = $1 AND status = 'awaiting_payment')"
            " + (SELECT count(*) FROM payments p JOIN orders o USING (order_id)"
            "    WHERE o.sale_id = $1 AND p.status IN ('processing', 'refund_pending'))"
            " + (SELECT count(*) FROM releases WHERE sale_id = $1 AND published_at IS NULL)",
            sale_id,
        )
        if open_ == 0:
            return
        assert time.monotonic() < deadline, f"{open_} orders, payments or releases still open"
        await asyncio.sleep(0.1)


async def released_once(api, admin_token: str, sale_id: str, expected: int) -> dict:
    """The decider's count of released units reaches the number of expired orders, and stays."""
    for _ in range(100):
        stats = await api.stats(admin_token, sale_id)
        if stats["released"] >= expected:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a duplicate release would show up by now
    stats = await api.stats(admin_token, sale_id)
    assert stats["released"] == expected, stats
    assert stats["paid"] + stats["awaiting_payment"] + stats["remaining"] == stats["stock"], stats
    return stats


async def test_order_service_killed_during_a_wave_of_expiries(
    stack, api, admin_token, database_url, figures
):
    sale, _ = await api.winners_in_waves(  # nobody pays
        admin_token, orders=ORDERS, wave=6, prefix="late", payment_window_seconds=WINDOW
    )
    conn = await asyncpg.connect(database_url)
    try:
        while (
            expired := await conn.fetchval(
                "SELECT count(*) FROM orders WHERE sale_id = $1 AND status = 'expired'",
                sale["sale_id"],
            )
        ) < ORDERS // 4:
            await asyncio.sleep(0.01)
        stack.order.kill()
        killed_at = expired
        await stack.order.restart()
        await until_settled(conn, sale["sale_id"])
        statuses = Counter(
            r["status"]
            for r in await conn.fetch(
                "SELECT status FROM orders WHERE sale_id = $1", sale["sale_id"]
            )
        )
        releases = await conn.fetchval(
            "SELECT count(*) FROM releases WHERE sale_id = $1", sale["sale_id"]
        )
    finally:
        await conn.close()
    assert killed_at < ORDERS, "the kill landed after the wave"
    assert statuses == {"expired": ORDERS} and releases == ORDERS
    stats = await released_once(api, admin_token, sale["sale_id"], ORDERS)
    assert stats["remaining"] == ORDERS
    figures.update(
        scenario="order_service SIGKILL during a wave of expiries, restarted",
        fault=f"SIGKILL after {killed_at} of {ORDERS} orders had expired",
        orders=dict(statuses),
        releases=releases,
        released_by_decider=stats["released"],
    )


async def test_order_service_killed_during_payments(stack, api, admin_token, database_url, figures):
    sale, won = await api.winners_in_waves(
        admin_token, orders=ORDERS, wave=6, prefix="payer", payment_window_seconds=WINDOW
    )
    methods = ["pm_card_visa", "pm_card_slow", "pm_card_chargeDeclined"]
    answers: Counter[int] = Counter()

    async def pay(i: int, token: str, ticket: dict) -> None:
        await asyncio.sleep(i * 0.01)  # a stream of payments over ~1.2 s
        reply = await api.pay(token, ticket["order_id"], methods[i % 3])
        answers[reply.status] += 1

    paying = asyncio.create_task(
        asyncio.wait_for(
            asyncio.gather(*(pay(i, t, x) for i, (t, x) in enumerate(won))), timeout=60
        )
    )
    await asyncio.sleep(0.6)  # mid-stream: slow confirmations pending, visa ones arriving
    stack.order.kill()
    await stack.order.restart()
    await paying
    conn = await asyncpg.connect(database_url)
    try:
        await until_settled(conn, sale["sale_id"])
        rows = await conn.fetch(
            "SELECT o.status, o.paid_at, o.expired_at, o.refunded_at,"
            " array_agg(p.status) FILTER (WHERE p.status IS NOT NULL) AS payments,"
            " (SELECT count(*) FROM releases r WHERE r.order_id = o.order_id) AS releases"
            " FROM orders o LEFT JOIN payments p USING (order_id) WHERE o.sale_id = $1"
            " GROUP BY o.order_id",
            sale["sale_id"],
        )
    finally:
        await conn.close()
    final = Counter(r["status"] for r in rows)
    assert len(rows) == ORDERS and set(final) <= {"paid", "expired", "refunded"}, final
    for r in rows:
        payments = Counter(r["payments"] or [])
        assert not (r["paid_at"] and r["expired_at"]), r
        if r["status"] == "paid":
            assert payments["succeeded"] == 1 and r["releases"] == 0, r
        else:
            assert payments["succeeded"] == 0 and r["releases"] == 1, r
            assert payments["refunded"] == (1 if r["status"] == "refunded" else 0), r
    assert final["paid"] > 0 and answers[202] > 0
    expired = final["expired"] + final["refunded"]
    stats = await released_once(api, admin_token, sale["sale_id"], expired)
    assert stats["paid"] == final["paid"]
    figures.update(
        scenario="order_service SIGKILL during payments, restarted",
        fault="SIGKILL 0.6 s into a stream of 120 payments (visa, slow, declined)",
        payment_answers=dict(answers),
        orders=dict(final),
    )
