"""The inventory's SaleStore: the Redis script and the fake decide alike."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import Accepted, NewSale, Rejected, StockIncreased, UnknownSale
from shared.contracts.messages import AddStock, PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms
from tests.unit.inventory.fakes import FakeSaleStore

pytestmark = pytest.mark.integration

STARTS = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=1)


@pytest.fixture(params=["fake", "redis"])
def store(request, redis_client, namespace):
    if request.param == "fake":
        return FakeSaleStore()
    return RedisSaleStore(redis_client, Keys(namespace))


def sale(stock: int, limit: int = 1) -> NewSale:
    return NewSale(name="drop", stock=stock, starts_at=STARTS, ends_at=ENDS, per_user_limit=limit)


def buy(sale_id, user, at=None) -> PlacePurchase:
    at = datetime_to_ms(STARTS) + 1 if at is None else at
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=user, requested_at_ms=at)


async def test_rules_in_line_order(store):
    sale_id, alice, bob = uuid4(), uuid4(), uuid4()
    assert await store.create(sale_id, sale(stock=2, limit=1))
    early = buy(sale_id, bob, at=datetime_to_ms(STARTS) - 1)
    late = buy(sale_id, bob, at=datetime_to_ms(ENDS))
    a1, a2 = buy(sale_id, alice), buy(sale_id, alice)
    b1, c1 = buy(sale_id, bob), buy(sale_id, uuid4())
    assert await store.decide([early, a1, a2, late, b1, c1]) == [
        Rejected(early.ticket_id, "sale_not_active"),
        Accepted(a1.ticket_id),
        Rejected(a2.ticket_id, "limit_reached"),
        Rejected(late.ticket_id, "sale_not_active"),
        Accepted(b1.ticket_id),
        Rejected(c1.ticket_id, "sold_out"),
    ]
    assert await store.counters(sale_id) == {
        "stock": 2,
        "remaining": 0,
        "accepted": 2,
        "rejected": 4,
        "waitlisted": 0,
        "waitlist_served": 0,
        "waitlist_dropped": 0,
        "released": 0,
    }


async def test_redelivery_repeats_the_first_decision(store):
    sale_id = uuid4()
    await store.create(sale_id, sale(stock=1))
    first, second = buy(sale_id, uuid4()), buy(sale_id, uuid4())
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=2, requested_at_ms=0)
    once = await store.decide([first, second, top_up])
    again = await store.decide([top_up, second, first])
    assert again == [once[2], once[1], once[0]]
    assert once[2] == StockIncreased(top_up.command_id, stock=3, remaining=2)
    assert await store.command_outcome(top_up.sale_id, top_up.command_id) == once[2]
    assert (await store.counters(sale_id))["remaining"] == 2


async def test_unknown_sales_and_commands(store):
    lost = buy(uuid4(), uuid4())
    assert await store.decide([lost]) == [UnknownSale(lost.sale_id)]
    assert await store.counters(uuid4()) is None
    assert await store.command_outcome(uuid4(), uuid4()) is None


async def test_create_is_once_and_can_start_from_a_remaining_count(store):
    sale_id = uuid4()
    assert await store.create(sale_id, sale(stock=10), remaining=4)
    assert not await store.create(sale_id, sale(stock=99))
    assert await store.counters(sale_id) == {
        "stock": 10,
        "remaining": 4,
        "accepted": 6,
        "rejected": 0,
        "waitlisted": 0,
        "waitlist_served": 0,
        "waitlist_dropped": 0,
        "released": 0,
    }


async def test_a_random_crowd_gets_the_same_answers_from_both(redis_client, namespace):
    fake, real = FakeSaleStore(), RedisSaleStore(redis_client, Keys(namespace))
    rng = random.Random(7)
    sale_id, users = uuid4(), [uuid4() for _ in range(20)]
    for one in (fake, real):
        await one.create(sale_id, sale(stock=15, limit=2))
    crowd: list = [buy(sale_id, rng.choice(users)) for _ in range(120)]
    crowd.insert(60, AddStock(command_id=uuid4(), sale_id=sale_id, quantity=5, requested_at_ms=0))
    for start in range(0, len(crowd), 17):  # batches of odd sizes, with some redeliveries
        batch = crowd[start : start + 17] + crowd[max(0, start - 3) : start]
        assert await fake.decide(batch) == await real.decide(batch)
    assert await fake.counters(sale_id) == await real.counters(sale_id)


async def test_a_decided_ticket_names_its_buyer_even_if_the_issued_record_was_lost(
    redis_client, namespace
):
    # The gateway writes a ticket's sale, buyer and status when it issues it; a Redis failover
    # can lose that write (only decisions wait for a replica), and a record without them reads
    # as "no such ticket" (seen in tests/cluster/test_sentinel_crowd.py). The decision says them
    # again.
    keys = Keys(namespace)
    store = RedisSaleStore(redis_client, keys)
    sale_id = uuid4()
    await store.create(sale_id, sale(stock=1))
    won, refused = buy(sale_id, uuid4()), buy(sale_id, uuid4())
    await store.decide([won, refused])
    for purchase, status in ((won, "accepted"), (refused, "queued")):
        record = await redis_client.hgetall(keys.ticket(purchase.ticket_id))
        assert record["sale_id"] == str(sale_id)
        assert record["user_id"] == str(purchase.user_id)
        assert record["status"] == status  # a rejection is told by the order service
