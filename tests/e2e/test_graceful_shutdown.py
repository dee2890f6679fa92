"""SIGTERM: stop taking work, finish or hand back what is in flight, exit cleanly."""

import asyncio
import random
import time
from uuid import uuid4

import pytest

from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import now_ms
from tests.support.invariants import assert_invariants, outcome
from tests.support.processes import ARTIFACTS, ServiceProcess
from tests.support.publishing import publish_intents
from tests.support.sales import seed_sale

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(120)
async def test_sigterm_mid_stream_loses_nothing(
    stack_env, request, namespace, names, database_url, redis_client, pg, amqp
):
    keys = Keys(namespace)
    sale_id, _ = await seed_sale(pg, redis_client, namespace, name="graceful", stock=150)

    artifacts = ARTIFACTS / request.node.name
    env = {**stack_env, "INTENT_PREFETCH": "4", "DECISION_PREFETCH": "4"}
    inventory = ServiceProcess("inventory_service", dict(env), artifacts / "inventory.log")
    order = ServiceProcess("order_service", dict(env), artifacts / "order.log")
    try:
        inventory.start()
        order.start()
        await asyncio.gather(inventory.wait_ready(), order.wait_ready())
        rng = random.Random(5)
        intents = [
            PlacePurchase(
                ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=now_ms()
            )
            for _ in range(1500)
        ]
        messages, position = [], 0
        while position < len(intents):
            size = rng.randint(1, 15)
            messages.append(intents[position : position + size])
            position += size
        await publish_intents(amqp, names, messages)
        while int(await redis_client.hget(keys.sale(sale_id), "accepted") or 0) < 20:
            await asyncio.sleep(0.01)

        started = time.monotonic()
        assert inventory.stop(timeout=15) == 0, inventory.log_tail()
        assert order.stop(timeout=15) == 0, order.log_tail()
        assert time.monotonic() - started < 15

        # Whatever was in flight went back to the queues; new instances finish the work.
        await asyncio.gather(inventory.restart(), order.restart())
        result = await outcome(
            redis_client, keys, database_url, sale_id, [i.ticket_id for i in intents]
        )
        assert_invariants(result, tickets=len(intents), per_user_limit=1)
        assert result.accepted == 150
    finally:
        inventory.stop()
        order.stop()
