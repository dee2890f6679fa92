"""The flash crowd: stock 100, 500 users each trying twice at once."""

import asyncio
from collections import Counter

import asyncpg
import pytest

pytestmark = pytest.mark.e2e

STOCK, USERS, TRIES = 100, 500, 2


async def gather_limited(coroutines, limit=50):
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


@pytest.mark.timeout(240)
async def test_flash_crowd_sells_exactly_the_stock_to_distinct_users(
    api, admin_token, database_url
):
    sale = await api.create_sale(admin_token, stock=STOCK)
    sale_id = sale["sale_id"]
    assert sale["state"] == "active"
    # Registration pays bcrypt; stay under the auth service's bound on waiting checks.
    tokens = await gather_limited((api.user(f"buyer{i}") for i in range(USERS)), limit=16)

    # Every attempt at once. Each gets a ticket, or - once the gateway knows the stock is
    # gone or already claimed by those in line - an immediate 409 saying so.
    attempts = [token for token in tokens for _ in range(TRIES)]
    all_replies = await asyncio.gather(*(api.purchase(t, sale_id) for t in attempts))
    statuses = Counter(r.status for r in all_replies)
    assert set(statuses) <= {202, 409}, statuses
    refused = Counter(r.body["error"]["code"] for r in all_replies if r.status == 409)
    assert set(refused) <= {"sold_out", "demand_exceeds_stock"}, refused
    ticketed = [(t, r) for t, r in zip(attempts, all_replies, strict=True) if r.status == 202]
    assert len(ticketed) >= STOCK
    attempts = [t for t, _ in ticketed]
    replies = [r for _, r in ticketed]
    for reply in replies:
        assert reply.body["status"] == "queued"
        assert reply.headers["Location"] == f"/api/v1/tickets/{reply.body['ticket_id']}"

    finals = await gather_limited(
        api.wait_final(token, reply.body["ticket_id"], timeout=60)
        for token, reply in zip(attempts, replies, strict=True)
    )
    confirmed = [
        (token, f) for token, f in zip(attempts, finals, strict=True) if f["status"] == "confirmed"
    ]
    rejected = [f for f in finals if f["status"] == "rejected"]
    assert len(confirmed) == STOCK
    assert len({token for token, _ in confirmed}) == STOCK, "a user bought twice"
    assert all(f["order_id"] for _, f in confirmed)
    assert len(rejected) == len(replies) - STOCK
    assert {f["reason"] for f in rejected} <= {"sold_out", "limit_reached"}

    conn = await asyncpg.connect(database_url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders")
        buyers = await conn.fetchval("SELECT count(DISTINCT user_id) FROM orders")
        tickets = await conn.fetchval("SELECT count(*) FROM tickets")
    finally:
        await conn.close()
    assert (orders, buyers, tickets) == (STOCK, STOCK, len(replies))

    after = await api.call("GET", f"/api/v1/sales/{sale_id}")
    assert after.body["remaining"] == 0
    assert after.body["state"] == "sold_out"
    stats = await api.call("GET", f"/api/v1/admin/sales/{sale_id}/stats", token=admin_token)
    assert stats.status == 200
    assert stats.body == {
        "sale_id": sale_id,
        "stock": STOCK,
        "remaining": 0,
        "accepted": STOCK,
        "rejected": len(replies) - STOCK,
        "orders": STOCK,
        # Nobody paid yet: every unit is held for its winner until pay_by.
        "awaiting_payment": STOCK,
        "paid": 0,
        "expired": 0,
        "refunded": 0,
        "released": 0,
        "waitlisted": 0,
        "waitlist_served": 0,
        "revenue": {"amount": 0, "currency": "EUR"},
    }
    # A winner sees their order, and only theirs.
    token, final = confirmed[0]
    mine = await api.call("GET", "/api/v1/orders", token=token)
    assert [o["order_id"] for o in mine.body] == [final["order_id"]]
