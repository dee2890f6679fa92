"""A fair start's room and draw in the inventory's use cases, on fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from inventory_service import handlers
from inventory_service.domain import NewSale
from shared.contracts.fair_start import draw_order
from shared.contracts.messages import DrawWaitingRoom, PlacePurchase, PurchaseAccepted
from shared.contracts.sales import datetime_to_ms
from tests.unit.inventory.fakes import (
    FakeCommandLine,
    FakeDecisionPublisher,
    FakeSaleRecords,
    FakeSaleStore,
)

# Far ahead: the suite may run this module long after importing it.
STARTS = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
WINDOW = 20


def fair_sale(stock: int) -> NewSale:
    return NewSale(
        name="fair",
        stock=stock,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=1),
        waiting_room_opens_at=STARTS - timedelta(minutes=5),
        fair_window_seconds=WINDOW,
    )


def purchase(sale_id, at_ms: int) -> PlacePurchase:
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=at_ms)


@pytest.fixture
def deps():
    return {
        "store": FakeSaleStore(),
        "records": FakeSaleRecords(),
        "publisher": FakeDecisionPublisher(),
    }


async def test_the_first_purchase_after_the_window_brings_the_draw_in_front_of_it(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, fair_sale(stock=2))
    room = [purchase(sale_id, datetime_to_ms(STARTS) - 1000 * i) for i in range(5)]
    await handlers.decide_intents(room, [None] * 5, **deps)
    assert deps["publisher"].events == []  # the room is decided at its draw
    assert deps["records"].draws == {}

    late = purchase(sale_id, datetime_to_ms(STARTS) + WINDOW * 1000)
    await handlers.decide_intents([late], ["req-late"], **deps)
    seed, _, tickets = deps["records"].draws[sale_id]
    assert tickets == 5
    events = deps["publisher"].events
    first_two = [t for t, _ in draw_order(seed, [(str(p.ticket_id), p) for p in room])][:2]
    accepted = [str(e.ticket_id) for e in events if isinstance(e, PurchaseAccepted)]
    assert accepted == first_two  # the drawn order, before the late buyer
    assert [e.ticket_id for e in events][-1] == late.ticket_id
    assert events[-1].type == "purchase_rejected"  # sold out by the room
    # Drawn once: a later purchase needs no draw, and a draw sent again changes nothing.
    await handlers.decide_intents(
        [purchase(sale_id, datetime_to_ms(STARTS) + 60_000)], [None], **deps
    )
    assert deps["records"].draws[sale_id][0] == seed


async def test_each_service_sends_the_draw_of_a_room_whose_window_is_over(deps):
    store = deps["store"]
    due, early, empty = uuid4(), uuid4(), uuid4()
    past = fair_sale(stock=1).model_copy(
        update={
            "starts_at": datetime.now(UTC) - timedelta(minutes=1),
            "waiting_room_opens_at": datetime.now(UTC) - timedelta(minutes=2),
        }
    )
    await store.create(due, past)
    await store.create(early, fair_sale(stock=1))
    await store.create(empty, past)
    at = datetime_to_ms(datetime.now(UTC) - timedelta(seconds=90))
    await store.decide([purchase(due, at)])
    await store.decide([purchase(early, datetime_to_ms(STARTS) - 1)])
    line = FakeCommandLine()
    assert await handlers.draw_due_rooms(store=store, line=line) == 1
    ((command, _),) = line.enqueued
    assert isinstance(command, DrawWaitingRoom)
    assert command.sale_id == due
    assert command.command_id == handlers.draw_command(due).command_id


async def test_a_batch_retried_after_a_failed_publish_brings_the_draw_again(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, fair_sale(stock=1))
    room = [purchase(sale_id, datetime_to_ms(STARTS) - 1000 * i) for i in range(3)]
    await handlers.decide_intents(room, [None] * 3, **deps)
    late = purchase(sale_id, datetime_to_ms(STARTS) + WINDOW * 1000)
    deps["publisher"].fail_with = ConnectionError("broker gone")
    with pytest.raises(ConnectionError):
        await handlers.decide_intents([late], [None], **deps)
    assert deps["publisher"].events == []
    await handlers.decide_intents([late], [None], **deps)  # the redelivery, same process
    decided = {e.ticket_id for e in deps["publisher"].events}
    assert decided == {p.ticket_id for p in room} | {late.ticket_id}
