"""The order service's OrderStore: Postgres and the fake persist alike."""

from __future__ import annotations

from uuid import uuid4

import pytest

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.domain import order_id_for, outcomes_of
from shared.contracts.messages import PurchaseAccepted, PurchaseRejected
from tests.unit.order.fakes import FakeOrderStore

pytestmark = pytest.mark.integration


@pytest.fixture(params=["fake", "postgres"])
def orders(request, pg):
    return FakeOrderStore() if request.param == "fake" else PostgresOrders(pg)


def accepted(sale_id, user_id, at):
    return PurchaseAccepted(ticket_id=uuid4(), sale_id=sale_id, user_id=user_id, decided_at_ms=at)


async def test_persisting_is_idempotent_and_orders_are_newest_first(orders):
    alice, sale_id = uuid4(), uuid4()
    first = accepted(sale_id, alice, 1_700_000_000_000)
    second = accepted(sale_id, alice, 1_700_000_001_000)
    lost = PurchaseRejected(
        ticket_id=uuid4(), sale_id=sale_id, user_id=alice, reason="sold_out", decided_at_ms=1
    )
    await orders.persist(outcomes_of([first, lost]))
    await orders.persist(outcomes_of([second, first, lost]))  # redelivered, overlapping
    mine = await orders.orders_of(alice, 10)
    assert [o["order_id"] for o in mine] == [
        str(order_id_for(second.ticket_id)),
        str(order_id_for(first.ticket_id)),
    ]
    assert [o["ticket_id"] for o in mine] == [str(second.ticket_id), str(first.ticket_id)]
    assert {o["sale_id"] for o in mine} == {str(sale_id)}
    # Decisions of a build without payments: complete at once, for nothing.
    assert {(o["status"], o["price"]["amount"]) for o in mine} == {("paid", 0)}
    assert [o["order_id"] for o in await orders.orders_of(alice, 1)] == [
        str(order_id_for(second.ticket_id))
    ]
    assert await orders.orders_of(uuid4(), 10) == []


async def test_an_order_awaits_payment_at_the_sale_price_and_is_its_buyers_alone(orders):
    alice, sale_id = uuid4(), uuid4()
    event = PurchaseAccepted(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=alice,
        decided_at_ms=1_700_000_000_000,
        product_id=uuid4(),
        price_amount=4_999,
        currency="EUR",
        pay_by_ms=1_700_000_600_000,
    )
    await orders.persist(outcomes_of([event]))
    order_id = order_id_for(event.ticket_id)
    mine = await orders.order_of(order_id, alice)
    assert mine is not None
    assert mine["status"] == "awaiting_payment"
    assert mine["price"] == {"amount": 4_999, "currency": "EUR"}
    assert mine["pay_by"] == "2023-11-14T22:23:20+00:00"
    assert mine["paid_at"] is None
    assert await orders.order_of(order_id, uuid4()) is None
    assert await orders.order_of(uuid4(), alice) is None
