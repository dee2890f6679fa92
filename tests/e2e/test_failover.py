"""Single active consumer: a standby inventory replica takes over a killed one mid-stream."""

import asyncio
import random
import re
from uuid import uuid4

import aiohttp
import pytest

from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import now_ms
from tests.support.invariants import assert_invariants, outcome
from tests.support.processes import ARTIFACTS, ServiceProcess
from tests.support.publishing import publish_intents
from tests.support.sales import seed_sale

pytestmark = pytest.mark.e2e

STOCK, INTENTS, PER_MESSAGE = 300, 2000, 20


async def decisions_made(service: ServiceProcess) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{service.url}/metrics") as r:
        text = await r.text()
    return sum(
        float(m) for m in re.findall(r"^inventory_decisions_total\{[^}]*\} (\S+)$", text, re.M)
    )


@pytest.mark.timeout(120)
async def test_standby_takes_over_when_the_active_consumer_is_killed(
    stack_env, request, namespace, names, database_url, redis_client, pg, amqp
):
    keys = Keys(namespace)
    sale_id, _ = await seed_sale(pg, redis_client, namespace, name="failover", stock=STOCK)

    artifacts = ARTIFACTS / request.node.name
    env = {**stack_env, "INTENT_PREFETCH": "4"}  # small batches: the kill lands mid-stream
    active = ServiceProcess("inventory_service", dict(env), artifacts / "inventory-a.log")
    standby = ServiceProcess("inventory_service", dict(env), artifacts / "inventory-b.log")
    order = ServiceProcess("order_service", dict(env), artifacts / "order.log")
    processes = [active, standby, order]
    try:
        # A registers first on every partition, so it is the active consumer; B waits.
        active.start()
        await active.wait_ready()
        standby.start()
        order.start()
        await asyncio.gather(standby.wait_ready(), order.wait_ready())

        rng = random.Random(3)
        users = [uuid4() for _ in range(1500)]
        intents = [
            PlacePurchase(
                ticket_id=uuid4(),
                sale_id=sale_id,
                user_id=rng.choice(users),
                requested_at_ms=now_ms(),
            )
            for _ in range(INTENTS)
        ]
        messages = [intents[i : i + PER_MESSAGE] for i in range(0, INTENTS, PER_MESSAGE)]
        await publish_intents(amqp, names, messages[: len(messages) // 2])

        # Kill A once it has decided part of the stream.
        while await decisions_made(active) < 200:
            await asyncio.sleep(0.02)
        active.kill()
        await publish_intents(amqp, names, messages[len(messages) // 2 :])

        result = await outcome(
            redis_client, keys, database_url, sale_id, [i.ticket_id for i in intents]
        )
        assert await decisions_made(standby) > 0, "the standby never took over"
        assert_invariants(result, tickets=INTENTS, per_user_limit=1)
        assert result.accepted == STOCK
    finally:
        for process in processes:
            process.stop()
