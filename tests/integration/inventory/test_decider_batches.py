"""A delivered batch with everything in it: decided in order, in one go, idempotently."""

from uuid import uuid4

import pytest

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.app import create_app
from inventory_service.settings import InventorySettings
from shared.contracts.messages import (
    AddStock,
    PlacePurchase,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
    decode_commands,
    decode_events,
)
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import now_ms
from tests.conftest import TEST_PARTITIONS
from tests.support.publishing import publish_intents
from tests.support.queues import wait_for_messages
from tests.support.sales import seed_sale

pytestmark = pytest.mark.integration


async def test_mixed_batch_accept_reject_duplicate_top_up_and_poison(
    servers, database_url, namespace, names, redis_client, pg, amqp, aiohttp_client
):
    sale_id, _ = await seed_sale(pg, redis_client, namespace, name="mixed", stock=2)
    u1, u2, u3 = uuid4(), uuid4(), uuid4()

    def buy(user, sale=sale_id):
        return PlacePurchase(
            ticket_id=uuid4(), sale_id=sale, user_id=user, requested_at_ms=now_ms()
        )

    t1, t2, t3, t4, t5 = buy(u1), buy(u2), buy(u1), buy(u1), buy(u3)
    # An unknown sale on the same partition, so its intent shares the message.
    unknown_sale = uuid4()
    while names.partition_of(unknown_sale) != names.partition_of(sale_id):
        unknown_sale = uuid4()
    stranger = buy(u3, sale=unknown_sale)
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=1, requested_at_ms=now_ms())
    # One message: the whole mix is one delivered batch.
    await publish_intents(amqp, names, [[t1, t2, t3, t2, top_up, t4, stranger, t5]])

    settings = InventorySettings(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        intent_partitions=TEST_PARTITIONS,
    )
    await aiohttp_client(create_app(settings))

    [message] = await wait_for_messages(amqp, names.decisions_queue, 1)
    events = decode_events(message.body).events
    summary = [
        (type(e).__name__, getattr(e, "ticket_id", None), getattr(e, "reason", None))
        for e in events
    ]
    assert summary == [
        ("PurchaseAccepted", t1.ticket_id, None),
        ("PurchaseAccepted", t2.ticket_id, None),
        ("PurchaseRejected", t3.ticket_id, "sold_out"),
        ("PurchaseAccepted", t2.ticket_id, None),  # the duplicate repeats its decision
        ("StockAdded", None, None),
        ("PurchaseRejected", t4.ticket_id, "limit_reached"),
        ("PurchaseAccepted", t5.ticket_id, None),
    ]
    assert isinstance(events[0], PurchaseAccepted)
    assert isinstance(events[2], PurchaseRejected)
    added = events[4]
    assert isinstance(added, StockAdded)
    assert (added.stock, added.remaining) == (3, 1)

    counters = await RedisSaleStore(redis_client, Keys(namespace)).counters(sale_id)
    assert counters is not None
    assert {k: counters[k] for k in ("stock", "remaining", "accepted", "rejected")} == {
        "stock": 3,
        "remaining": 0,
        "accepted": 3,
        "rejected": 2,
    }
    # The top-up is durable, once.
    assert await pg.fetchval("SELECT stock FROM sales WHERE sale_id = $1", sale_id) == 3
    assert await pg.fetchval("SELECT count(*) FROM stock_changes") == 1

    # Only the unknown sale's intent went to the dead letters, with its reason.
    [dead] = await wait_for_messages(amqp, names.dead_letter_queue, 1)
    assert dead.headers["x-poison-reason"] == "unknown_sale"
    assert decode_commands(dead.body).commands == [stranger]
