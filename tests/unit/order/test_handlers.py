"""The order service's use cases on fakes: commit first, show second, once per ticket."""

from __future__ import annotations

from uuid import uuid4

import pytest

from order_service import handlers
from order_service.domain import order_id_for
from order_service.entrypoints.consumers import decisions_handler
from shared.contracts.messages import (
    EventBatch,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
    encode,
)
from shared.runtime.request_ids import AMQP_HEADER
from tests.support.deliveries import FakeDelivery
from tests.unit.order.fakes import FakeOrderStore, FakeTicketFinaliser


def accepted(sale_id, user_id=None, at=1_700_000_000_000):
    return PurchaseAccepted(
        ticket_id=uuid4(), sale_id=sale_id, user_id=user_id or uuid4(), decided_at_ms=at
    )


def rejected(sale_id):
    return PurchaseRejected(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=uuid4(),
        reason="sold_out",
        decided_at_ms=1_700_000_000_000,
    )


@pytest.fixture
def deps():
    return {"orders": FakeOrderStore(), "tickets": FakeTicketFinaliser()}


async def test_a_batch_is_committed_then_shown(deps):
    sale_id = uuid4()
    events = [accepted(sale_id), rejected(sale_id)]
    await handlers.persist_decisions(events, ["a", "b"], **deps)
    assert deps["orders"].commits == 1  # one transaction for the batch
    assert deps["tickets"].status == {
        events[0].ticket_id: ("confirmed", None, order_id_for(events[0].ticket_id)),
        events[1].ticket_id: ("rejected", "sold_out", None),
    }


async def test_nothing_is_shown_before_the_commit(deps):
    deps["orders"].fail_with = ConnectionError("postgres went away")
    with pytest.raises(ConnectionError):
        await handlers.persist_decisions([accepted(uuid4())], [None], **deps)
    assert deps["tickets"].status == {}  # never "confirmed" without its order row


async def test_a_redelivered_batch_changes_nothing(deps):
    sale_id = uuid4()
    events = [accepted(sale_id), accepted(sale_id)]
    deps["tickets"].fail_with = TimeoutError()  # committed, then Redis failed: no ack
    with pytest.raises(TimeoutError):
        await handlers.persist_decisions(events, [None, None], **deps)
    await handlers.persist_decisions([*events, events[0]], [None] * 3, **deps)
    assert len(deps["orders"].tickets) == 2
    assert {s for s, _, _ in deps["tickets"].status.values()} == {"confirmed"}


async def test_stock_events_are_not_tickets(deps):
    sale_id = uuid4()
    top_up = StockAdded(
        command_id=uuid4(), sale_id=sale_id, quantity=1, stock=2, remaining=2, decided_at_ms=1
    )
    await handlers.persist_decisions([top_up], [None], **deps)
    assert deps["orders"].commits == 0 and deps["tickets"].announced == []


async def test_orders_are_the_buyers_own_newest_first(deps):
    alice, sale_id = uuid4(), uuid4()
    older, newer = accepted(sale_id, alice, at=1_000), accepted(sale_id, alice, at=2_000)
    await handlers.persist_decisions([older, newer, accepted(sale_id)], [None] * 3, **deps)
    mine = await handlers.list_orders(alice, 10, orders=deps["orders"])
    assert [o["ticket_id"] for o in mine] == [str(newer.ticket_id), str(older.ticket_id)]
    assert len(await handlers.list_orders(alice, 1, orders=deps["orders"])) == 1


async def test_the_consumer_rejects_poison_and_persists_the_rest(deps):
    sale_id = uuid4()
    good = [accepted(sale_id)]
    batch = [
        FakeDelivery(encode(EventBatch(events=good)), {AMQP_HEADER: ["rid"]}),
        FakeDelivery(b'{"type": "event_batch", "version": 99, "events": []}'),
    ]
    await decisions_handler(**deps)(batch)
    assert [d.settled for d in batch] == [[], ["rejected"]]
    assert list(deps["tickets"].status) == [good[0].ticket_id]
