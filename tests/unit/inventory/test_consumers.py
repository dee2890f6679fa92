"""The partition consumer's entrypoint: wire data in, commands and request ids out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from inventory_service.domain import NewSale
from inventory_service.entrypoints.consumers import intents_handler
from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.sales import now_ms
from shared.runtime.request_ids import AMQP_HEADER
from tests.support.deliveries import FakeDelivery
from tests.unit.inventory.fakes import FakeDecisionPublisher, FakeSaleRecords, FakeSaleStore


def intents(sale_id, count):
    return [
        PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=now_ms())
        for _ in range(count)
    ]


async def test_poison_is_rejected_alone_and_ids_follow_their_items():
    store, publisher = FakeSaleStore(), FakeDecisionPublisher()
    sale_id = uuid4()
    now = datetime.now(UTC)
    await store.create(
        sale_id,
        NewSale(name="x", stock=9, starts_at=now - timedelta(1), ends_at=now + timedelta(1)),
    )
    handle = intents_handler(store=store, records=FakeSaleRecords(), publisher=publisher)
    first, second = intents(sale_id, 2), intents(sale_id, 1)
    batch = [
        FakeDelivery(encode(CommandBatch(commands=first)), {AMQP_HEADER: ["a", "b"]}),
        FakeDelivery(b'{"type": "command_batch", "version": 1, "commands": [{"oops": 1}]}'),
        FakeDelivery(b"not json at all"),
        # Ids that do not match the items are ignored, not misattributed.
        FakeDelivery(encode(CommandBatch(commands=second)), {AMQP_HEADER: ["x", "y"]}),
    ]
    await handle(batch)
    assert [d.settled for d in batch] == [[], ["rejected"], ["rejected"], []]
    [(events, ids)] = publisher.published
    assert [e.ticket_id for e in events] == [i.ticket_id for i in first + second]  # type: ignore[union-attr]
    assert ids == ["a", "b", None]


async def test_a_batch_of_only_poison_decides_nothing():
    publisher = FakeDecisionPublisher()
    handle = intents_handler(store=FakeSaleStore(), records=FakeSaleRecords(), publisher=publisher)
    await handle([FakeDelivery(b"{}")])
    assert publisher.published == []
