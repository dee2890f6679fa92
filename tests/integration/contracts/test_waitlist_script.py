"""The waitlist in the SaleStore: the Redis script (decide.lua) and the fake (the pure rules of
inventory_service/domain.py) give the same decisions and leave the same counters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import (
    Accepted,
    Decision,
    NewSale,
    Rejected,
    Released,
    StockIncreased,
    WaitlistClosed,
    Waitlisted,
)
from shared.contracts.messages import (
    AddStock,
    CloseWaitlist,
    Command,
    PlacePurchase,
    ReleaseUnit,
)
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms
from tests.unit.inventory.fakes import FakeSaleStore

pytestmark = pytest.mark.integration

STARTS = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=1)
OPEN, LATE = datetime_to_ms(STARTS) + 1, datetime_to_ms(ENDS)


@pytest.fixture(params=["fake", "redis"])
def store(request, redis_client, namespace):
    if request.param == "fake":
        return FakeSaleStore()
    return RedisSaleStore(redis_client, Keys(namespace))


def sale(stock: int, waitlist: int, limit: int = 1) -> NewSale:
    return NewSale(
        name="drop",
        stock=stock,
        starts_at=STARTS,
        ends_at=ENDS,
        per_user_limit=limit,
        waitlist_size=waitlist,
    )


def buy(sale_id: UUID, user: UUID | None = None) -> PlacePurchase:
    return PlacePurchase(
        ticket_id=uuid4(), sale_id=sale_id, user_id=user or uuid4(), requested_at_ms=OPEN
    )


def release(sale_id: UUID, user: UUID, at: int = OPEN) -> ReleaseUnit:
    return ReleaseUnit(
        command_id=uuid4(),
        sale_id=sale_id,
        order_id=uuid4(),
        ticket_id=uuid4(),
        user_id=user,
        requested_at_ms=at,
    )


def close(sale_id: UUID) -> CloseWaitlist:
    return CloseWaitlist(command_id=uuid4(), sale_id=sale_id, requested_at_ms=LATE)


def counters(
    *,
    stock: int,
    remaining: int,
    accepted: int,
    rejected: int = 0,
    waitlisted: int = 0,
    served: int = 0,
    dropped: int = 0,
    released: int = 0,
) -> dict[str, int]:
    return {
        "stock": stock,
        "remaining": remaining,
        "accepted": accepted,
        "rejected": rejected,
        "waitlisted": waitlisted,
        "waitlist_served": served,
        "waitlist_dropped": dropped,
        "released": released,
    }


def held(c: dict[str, int]) -> int:
    """Units reserved for buyers (SaleCounters.held), read from the counters."""
    return c["accepted"] + c["waitlist_served"] - c["released"]


async def test_the_waitlist_fills_in_order_then_the_sale_is_sold_out(store):
    sale_id, alice = uuid4(), uuid4()
    assert await store.create(sale_id, sale(stock=1, waitlist=2))
    won, twice = buy(sale_id, alice), buy(sale_id, alice)
    first, second, third = buy(sale_id), buy(sale_id), buy(sale_id)
    assert await store.decide([won, twice, first, second, third]) == [
        Accepted(won.ticket_id),
        Rejected(twice.ticket_id, "limit_reached"),  # the waitlist counts against the limit
        Waitlisted(first.ticket_id, 1),
        Waitlisted(second.ticket_id, 2),
        Rejected(third.ticket_id, "sold_out"),
    ]
    assert await store.counters(sale_id) == counters(
        stock=1, remaining=0, accepted=1, rejected=2, waitlisted=2
    )


async def test_a_release_goes_to_the_first_waiting_and_frees_the_buyers_slot(store):
    sale_id, alice = uuid4(), uuid4()
    await store.create(sale_id, sale(stock=1, waitlist=3))
    won, bobs, carols = buy(sale_id, alice), buy(sale_id), buy(sale_id)
    await store.decide([won, bobs, carols])
    expiry = release(sale_id, alice)
    again = buy(sale_id, alice)
    assert await store.decide([expiry, again]) == [
        Released(expiry.command_id, (bobs.ticket_id, bobs.user_id)),
        Waitlisted(again.ticket_id, 3),  # Alice's slot was freed: she queues behind Carol
    ]
    # Carol is next, then Alice.
    second = release(sale_id, bobs.user_id)
    third = release(sale_id, carols.user_id)
    assert await store.decide([second, third]) == [
        Released(second.command_id, (carols.ticket_id, carols.user_id)),
        Released(third.command_id, (again.ticket_id, alice)),
    ]
    state = await store.counters(sale_id)
    assert state == counters(stock=1, remaining=0, accepted=1, waitlisted=3, served=3, released=3)
    assert held(state) + state["remaining"] == state["stock"]


async def test_a_release_returns_to_stock_with_nobody_waiting_or_after_the_end(store):
    sale_id, alice, bob = uuid4(), uuid4(), uuid4()
    await store.create(sale_id, sale(stock=2, waitlist=1))
    waiting = buy(sale_id)
    await store.decide([buy(sale_id, alice), buy(sale_id, bob), waiting])
    late = release(sale_id, alice, at=LATE)
    assert await store.decide([late]) == [Released(late.command_id, None)]
    state = await store.counters(sale_id)
    assert state == counters(stock=2, remaining=1, accepted=2, waitlisted=1, released=1)
    # The waiting buyer is still there, to be refused at the close.
    closing = close(sale_id)
    assert await store.decide([closing]) == [
        WaitlistClosed(closing.command_id, ((waiting.ticket_id, waiting.user_id),))
    ]
    empty = release(sale_id, bob)
    assert await store.decide([empty]) == [Released(empty.command_id, None)]
    state = await store.counters(sale_id)
    assert state == counters(
        stock=2, remaining=2, accepted=2, rejected=1, waitlisted=1, dropped=1, released=2
    )
    assert held(state) == 0


async def test_the_close_refuses_everyone_waiting(store):
    sale_id = uuid4()
    await store.create(sale_id, sale(stock=1, waitlist=5))
    waiting = [buy(sale_id) for _ in range(3)]
    await store.decide([buy(sale_id), *waiting])
    closing = close(sale_id)
    assert await store.decide([closing]) == [
        WaitlistClosed(closing.command_id, tuple((w.ticket_id, w.user_id) for w in waiting))
    ]
    nobody = close(sale_id)
    assert await store.decide([nobody]) == [WaitlistClosed(nobody.command_id, ())]
    assert await store.counters(sale_id) == counters(
        stock=1, remaining=0, accepted=1, rejected=3, waitlisted=3, dropped=3
    )


async def test_redelivered_releases_and_closes_are_applied_once(store):
    sale_id, alice, bob = uuid4(), uuid4(), uuid4()
    await store.create(sale_id, sale(stock=2, waitlist=2))
    first, second = buy(sale_id), buy(sale_id)
    await store.decide([buy(sale_id, alice), buy(sale_id, bob), first, second])
    promote, closing = release(sale_id, alice), close(sale_id)
    once = await store.decide([promote, closing])
    assert once == [
        Released(promote.command_id, (first.ticket_id, first.user_id)),
        WaitlistClosed(closing.command_id, ((second.ticket_id, second.user_id),)),
    ]
    to_stock = release(sale_id, bob)
    assert await store.decide([to_stock, closing, promote, to_stock]) == [
        Released(to_stock.command_id, None),
        *once[::-1],
        Released(to_stock.command_id, None),
    ]
    assert await store.counters(sale_id) == counters(
        stock=2,
        remaining=1,
        accepted=2,
        rejected=1,
        waitlisted=2,
        served=1,
        dropped=1,
        released=2,
    )


async def test_a_random_line_gets_the_same_answers_from_both(redis_client, namespace):
    fake, real = FakeSaleStore(), RedisSaleStore(redis_client, Keys(namespace))
    rng = random.Random(20301)
    sale_id, users = uuid4(), [uuid4() for _ in range(8)]
    for one in (fake, real):
        await one.create(sale_id, sale(stock=5, waitlist=12, limit=2))
    holders: list[UUID] = []  # one entry per unit held, by its buyer
    sent: list[Command] = []
    kinds: dict[str, int] = {}
    for step in range(400):
        roll = rng.random()
        command: Command
        if roll < 0.55 or not holders:
            command = buy(sale_id, rng.choice(users))
        elif roll < 0.85:
            at = LATE if rng.random() < 0.1 else OPEN
            command = release(sale_id, holders.pop(rng.randrange(len(holders))), at=at)
        elif roll < 0.9:
            command = AddStock(
                command_id=uuid4(), sale_id=sale_id, quantity=rng.randint(1, 2), requested_at_ms=0
            )
        else:
            command = rng.choice(sent)  # a redelivery
        batch = [command]
        expected = await fake.decide(batch)
        got = await real.decide(batch)
        assert got == expected, f"step {step}: {command!r}"
        decision: Decision = got[0]
        if command not in sent:
            sent.append(command)
            kinds[type(decision).__name__] = kinds.get(type(decision).__name__, 0) + 1
            if isinstance(decision, Accepted):
                holders.append(command.user_id)  # type: ignore[union-attr]
            elif isinstance(decision, Released) and decision.promoted is not None:
                holders.append(decision.promoted[1])
        state = await real.counters(sale_id)
        assert state == await fake.counters(sale_id), f"step {step}"
        assert state is not None and held(state) + state["remaining"] == state["stock"], step
        assert held(state) == len(holders), step
    closing = close(sale_id)
    assert await real.decide([closing]) == await fake.decide([closing])
    assert await real.counters(sale_id) == await fake.counters(sale_id)
    # The sequence went through every branch it is meant to compare.
    assert {"Accepted", "Waitlisted", "Rejected", "Released", "StockIncreased"} <= set(kinds)
    real_counters = await real.counters(sale_id)
    assert real_counters is not None
    assert real_counters["waitlist_served"] > 0 and real_counters["waitlisted"] > 0


async def test_a_top_up_serves_the_waitlist_first_then_the_stock(store):
    sale_id = uuid4()
    await store.create(sale_id, sale(stock=1, waitlist=3))
    won, first, second = buy(sale_id), buy(sale_id), buy(sale_id)
    await store.decide([won, first, second])
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=3, requested_at_ms=OPEN)
    [added] = await store.decide([top_up])
    assert added == StockIncreased(
        top_up.command_id,
        stock=4,
        remaining=1,
        promoted=((first.ticket_id, first.user_id), (second.ticket_id, second.user_id)),
    )
    assert await store.decide([top_up]) == [added]  # redelivered: applied once
    assert await store.command_outcome(top_up.sale_id, top_up.command_id) == added
    after = await store.counters(sale_id)
    assert after == counters(stock=4, remaining=1, accepted=1, waitlisted=2, served=2)
    assert held(after) + after["remaining"] == after["stock"]
    late = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=1, requested_at_ms=LATE)
    third = buy(sale_id)
    await store.decide([buy(sale_id), third])  # takes the unit left, then waits
    [after_the_end] = await store.decide([late])
    assert after_the_end.promoted == ()  # nobody is served after the sale ended
