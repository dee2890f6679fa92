"""The Redis decision script against the pure rules it implements, on the real Redis."""

import random
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import (
    Accepted,
    NewSale,
    Rejected,
    SaleCounters,
    UnknownSale,
    decide_batch,
)
from shared.contracts.messages import AddStock, PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms

pytestmark = pytest.mark.integration

STARTS = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ENDS = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)


def new_sale(stock, limit=1):
    return NewSale(name="drop", stock=stock, starts_at=STARTS, ends_at=ENDS, per_user_limit=limit)


def intent(sale_id, user, at=None):
    return PlacePurchase(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=user,
        requested_at_ms=at if at is not None else datetime_to_ms(STARTS) + 1,
    )


@pytest.fixture
def store(redis_client, namespace):
    return RedisSaleStore(redis_client, Keys(namespace))


async def test_redelivered_intent_gets_the_same_decision_and_no_second_decrement(
    store, redis_client, namespace
):
    sale_id = uuid4()
    await store.create(sale_id, new_sale(stock=1))
    first, second = intent(sale_id, uuid4()), intent(sale_id, uuid4())
    assert await store.decide([first]) == [Accepted(first.ticket_id)]
    assert await store.decide([first, second, first]) == [
        Accepted(first.ticket_id),
        Rejected(second.ticket_id, "sold_out"),
        Accepted(first.ticket_id),
    ]
    counters = await store.counters(sale_id)
    assert counters is not None
    assert {k: counters[k] for k in ("stock", "remaining", "accepted", "rejected")} == {
        "stock": 1,
        "remaining": 0,
        "accepted": 1,
        "rejected": 1,
    }
    ticket = await redis_client.hgetall(Keys(namespace).ticket(first.ticket_id))
    assert ticket["status"] == "accepted"


async def test_accepted_never_pulls_a_final_ticket_back(store, redis_client, namespace):
    sale_id = uuid4()
    await store.create(sale_id, new_sale(stock=5))
    i = intent(sale_id, uuid4())
    key = Keys(namespace).ticket(i.ticket_id)
    await redis_client.hset(key, mapping={"status": "queued", "user_id": str(i.user_id)})
    await store.decide([i])
    await redis_client.hset(key, "status", "confirmed")  # the order service finished
    await store.decide([i])  # a late redelivery
    assert await redis_client.hget(key, "status") == "confirmed"


async def test_unknown_sale_is_reported_and_nothing_is_written(store, redis_client, namespace):
    i = intent(uuid4(), uuid4())
    assert await store.decide([i]) == [UnknownSale(i.sale_id)]
    assert await redis_client.exists(Keys(namespace).ticket(i.ticket_id)) == 0


async def test_create_is_idempotent(store):
    sale_id = uuid4()
    assert await store.create(sale_id, new_sale(stock=3)) is True
    assert await store.create(sale_id, new_sale(stock=99)) is False
    assert (await store.counters(sale_id))["stock"] == 3


@pytest.mark.parametrize("seed", range(5))
async def test_script_matches_the_rules_on_random_sequences(store, seed):
    """Window edges, limits, top-ups, redeliveries and several sales, split in random batches."""
    rng = random.Random(seed)
    start_ms, end_ms = datetime_to_ms(STARTS), datetime_to_ms(ENDS)
    sale_ids = [uuid4() for _ in range(3)]
    model = {}
    for sale_id in sale_ids:
        stock, limit = rng.randint(1, 15), rng.randint(1, 3)
        await store.create(sale_id, new_sale(stock, limit))
        model[sale_id] = SaleCounters(stock, stock, start_ms, end_ms, limit)
    users = [uuid4() for _ in range(8)]
    commands = []
    for _ in range(300):
        sale_id = rng.choice(sale_ids)
        roll = rng.random()
        if roll < 0.05:
            commands.append(
                AddStock(
                    command_id=uuid4(),
                    sale_id=sale_id,
                    quantity=rng.randint(1, 4),
                    requested_at_ms=0,
                )
            )
        elif roll < 0.15 and commands:
            commands.append(rng.choice(commands))  # a redelivery
        else:
            at = rng.choice([start_ms - 1, start_ms, start_ms + 10, end_ms - 1, end_ms])
            commands.append(intent(sale_id, rng.choice(users), at))
    decided: dict = {}
    position = 0
    while position < len(commands):
        size = rng.randint(1, 40)
        chunk = commands[position : position + size]
        position += size
        assert await store.decide(chunk) == decide_batch(model, chunk, decided)
    for sale_id in sale_ids:
        expected = model[sale_id]
        assert await store.counters(sale_id) == {
            "stock": expected.stock,
            "remaining": expected.remaining,
            "accepted": expected.accepted,
            "rejected": expected.rejected,
            "waitlisted": expected.waitlisted,
            "waitlist_served": expected.waitlist_served,
            "waitlist_dropped": expected.waitlist_dropped,
            "released": expected.released,
        }
