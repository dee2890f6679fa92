"""A fair start's waiting room and draw in the Redis decision script, against the pure rules
(inventory_service.domain) it implements, on the real Redis."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from redis.exceptions import ResponseError

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import (
    Accepted,
    InWaitingRoom,
    NewSale,
    Rejected,
    RoomDrawn,
    SaleCounters,
    decide_batch,
)
from inventory_service.handlers import draw_command
from shared.contracts.fair_start import FairStart, draw_order
from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms

pytestmark = pytest.mark.integration

OPENS = datetime(2030, 1, 1, 11, 0, tzinfo=UTC)
STARTS = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ENDS = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)
WINDOW = 30
DRAW_AT = datetime_to_ms(STARTS) + WINDOW * 1000


def fair_sale(stock: int) -> NewSale:
    return NewSale(
        name="fair drop",
        stock=stock,
        starts_at=STARTS,
        ends_at=ENDS,
        waiting_room_opens_at=OPENS,
        fair_window_seconds=WINDOW,
    )


def purchase(sale_id, user, at_ms):
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=user, requested_at_ms=at_ms)


@pytest.fixture
def store(redis_client, namespace):
    return RedisSaleStore(redis_client, Keys(namespace))


def spec_counters(stock: int) -> SaleCounters:
    sale = fair_sale(stock)
    return SaleCounters(
        stock=stock,
        remaining=stock,
        starts_at_ms=datetime_to_ms(STARTS),
        ends_at_ms=datetime_to_ms(ENDS),
        per_user_limit=1,
        fair=FairStart(datetime_to_ms(STARTS), datetime_to_ms(OPENS), WINDOW * 1000),
        waitlist_size=sale.waitlist_size,
    )


async def test_the_room_is_drawn_once_in_the_seeds_order_as_the_rules_say(
    store, redis_client, namespace
):
    sale_id = uuid4()
    await store.create(sale_id, fair_sale(stock=3))
    keys = Keys(namespace)
    opens = datetime_to_ms(OPENS)
    # Ten buyers in a known order: in the early room, at the start and in the fair window.
    room = [purchase(sale_id, uuid4(), opens + 1000 * i) for i in range(5)] + [
        purchase(sale_id, uuid4(), datetime_to_ms(STARTS) + 2000 * i) for i in range(5)
    ]
    again = purchase(sale_id, room[0].user_id, opens + 99)  # the same buyer, a second ticket
    decisions = await store.decide([*room, again])
    assert decisions[:-1] == [InWaitingRoom(p.ticket_id) for p in room]
    assert decisions[-1] == Rejected(again.ticket_id, "limit_reached")
    assert await redis_client.hget(keys.ticket(room[0].ticket_id), "status") == "waiting_room"
    assert await redis_client.hget(keys.sale(sale_id), "room") == "10"
    assert await store.draw_at(sale_id) == DRAW_AT

    # After the window, nothing is decided before the draw: the whole batch is refused.
    late = purchase(sale_id, uuid4(), DRAW_AT + 5)
    with pytest.raises(ResponseError, match="DRAWFIRST"):
        await store.decide([late])
    assert await redis_client.hget(keys.ticket(late.ticket_id), "decision") is None

    draw = draw_command(sale_id)
    drawn, late_decision = await store.decide([draw, late])
    assert isinstance(drawn, RoomDrawn)
    # Until its decisions are handed on, a retried batch must bring the draw again.
    assert await store.draw_at(sale_id) == DRAW_AT
    store.room_handed_on(sale_id)
    assert await store.draw_at(sale_id) is None
    # The order is the seed's: SHA-1 of "<seed>:<ticket>", as anyone can recompute.
    expected = draw_order(drawn.seed, [(str(p.ticket_id), p) for p in room])
    assert [t.ticket_id for t in drawn.tickets] == [p.ticket_id for _, p in expected]
    assert [t.position for t in drawn.tickets] == list(range(1, 11))
    assert [type(t.decision) for t in drawn.tickets] == [Accepted] * 3 + [Rejected] * 7
    assert late_decision == Rejected(late.ticket_id, "sold_out")  # after every drawn one

    # The pure rules, given the same seed, decide the same sequence the same way.
    spec = decide_batch(
        {sale_id: spec_counters(3)},
        [*room, again, draw, late],
        {},
        seed=drawn.seed,
    )
    assert spec[:-2] == decisions
    spec_drawn = spec[-2]
    assert isinstance(spec_drawn, RoomDrawn)
    assert spec_drawn.tickets == drawn.tickets
    assert spec[-1] == late_decision

    # Recorded for audit, shown on the tickets, and drawn once: a second draw command (a
    # redelivery, another service's timer) answers the first draw, whatever seed it brings.
    sale = await redis_client.hgetall(keys.sale(sale_id))
    assert sale["draw_seed"] == drawn.seed
    assert int(sale["drawn_at_ms"]) == draw.requested_at_ms
    first = drawn.tickets[0]
    assert await redis_client.hget(keys.ticket(first.ticket_id), "drawn_position") == "1"
    assert await redis_client.hget(keys.ticket(first.ticket_id), "status") == "accepted"
    (repeat,) = await store.decide([draw_command(sale_id)])
    assert repeat == drawn
    counters = await store.counters(sale_id)
    assert counters is not None
    assert (counters["accepted"], counters["remaining"]) == (3, 0)
    # A room purchase delivered again gets what the draw gave it.
    redelivered = await store.decide([room[0]])
    assert redelivered == [
        next(t.decision for t in drawn.tickets if t.ticket_id == room[0].ticket_id)
    ]


async def test_a_room_purchase_that_reaches_the_line_after_the_draw_counts_as_made_at_the_start(
    store,
):
    sale_id = uuid4()
    await store.create(sale_id, fair_sale(stock=5))
    (drawn,) = await store.decide([draw_command(sale_id)])
    assert isinstance(drawn, RoomDrawn)
    assert drawn.tickets == ()
    straggler = purchase(sale_id, uuid4(), datetime_to_ms(OPENS) + 10)
    assert await store.decide([straggler]) == [Accepted(straggler.ticket_id)]


async def test_a_sale_without_a_fair_start_knows_no_room(store):
    sale_id = uuid4()
    await store.create(sale_id, NewSale(name="plain", stock=1, starts_at=STARTS, ends_at=ENDS))
    first = purchase(sale_id, uuid4(), datetime_to_ms(STARTS) + 1)
    assert await store.draw_at(sale_id) is None
    assert await store.decide([first]) == [Accepted(first.ticket_id)]


def test_the_draw_command_of_a_sale_is_always_the_same():
    sale_id = uuid4()
    assert draw_command(sale_id).command_id == draw_command(sale_id).command_id
    assert draw_command(sale_id).command_id != draw_command(uuid4()).command_id
    assert draw_command(sale_id).command_id.version == 5
