"""FIFO is real: the winners are exactly the first K eligible intents in queue order."""

import asyncio
import random
import time
from uuid import uuid4

import pytest

from inventory_service.app import create_app
from inventory_service.domain import Accepted, SaleCounters, decide_batch
from inventory_service.settings import InventorySettings
from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms
from tests.conftest import TEST_PARTITIONS
from tests.support.publishing import publish_intents
from tests.support.sales import seed_sale

pytestmark = pytest.mark.integration


async def test_winners_are_the_first_k_eligible_intents_in_queue_order(
    servers, database_url, namespace, names, redis_client, amqp, aiohttp_client
):
    rng = random.Random(7)
    keys = Keys(namespace)
    sale_id, sale = await seed_sale(None, redis_client, namespace, name="fifo", stock=10)

    users = [uuid4() for _ in range(40)]
    inside = datetime_to_ms(sale.starts_at) + 60_000  # inside the window
    intents = [
        PlacePurchase(
            ticket_id=uuid4(),
            sale_id=sale_id,
            user_id=rng.choice(users),  # repeats: some are over their limit
            # a few were requested before the window opened: never eligible
            requested_at_ms=inside if rng.random() > 0.1 else datetime_to_ms(sale.starts_at) - 1,
        )
        for _ in range(120)
    ]
    # Several messages of different sizes: order must hold within and across them.
    messages, position = [], 0
    while position < len(intents):
        size = rng.randint(1, 9)
        messages.append(intents[position : position + size])
        position += size
    # Half queued before the consumer starts, half while it runs.
    await publish_intents(amqp, names, messages[: len(messages) // 2])

    settings = InventorySettings(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        intent_partitions=TEST_PARTITIONS,
        intent_prefetch=16,
    )
    await aiohttp_client(create_app(settings))
    await publish_intents(amqp, names, messages[len(messages) // 2 :])

    model = SaleCounters(
        stock=10,
        remaining=10,
        starts_at_ms=datetime_to_ms(sale.starts_at),
        ends_at_ms=datetime_to_ms(sale.ends_at),
        per_user_limit=1,
    )
    expected = decide_batch({sale_id: model}, intents, {})
    expected_winners = [d.ticket_id for d in expected if isinstance(d, Accepted)]
    assert len(expected_winners) == 10

    deadline = time.monotonic() + 20
    decisions = {}
    while time.monotonic() < deadline:
        async with redis_client.pipeline(transaction=False) as pipe:
            for i in intents:
                pipe.hget(keys.ticket(i.ticket_id), "decision")
            values = await pipe.execute()
        decisions = dict(zip([i.ticket_id for i in intents], values, strict=True))
        if all(decisions.values()):
            break
        await asyncio.sleep(0.1)
    assert all(decisions.values()), "not every intent was decided"
    winners = [i.ticket_id for i in intents if decisions[i.ticket_id] == "a"]
    assert winners == expected_winners
