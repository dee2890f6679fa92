"""Persisting decisions: once per ticket, whatever the broker redelivers."""

import asyncio
import time
from uuid import uuid4

import pytest

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.app import create_app
from order_service.domain import order_id_for, outcomes_of
from order_service.settings import OrderSettings
from shared.contracts.messages import EventBatch, PurchaseAccepted, PurchaseRejected, encode
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import declare_topology
from shared.runtime.publishing import publish_confirmed
from tests.conftest import TEST_PARTITIONS

pytestmark = pytest.mark.integration


def accepted(sale_id, user_id=None):
    return PurchaseAccepted(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=user_id or uuid4(),
        decided_at_ms=1_700_000_000_000,
    )


def rejected(sale_id, reason="sold_out"):
    return PurchaseRejected(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=uuid4(),
        reason=reason,
        decided_at_ms=1_700_000_000_000,
    )


async def counts(pg, sale_id):
    tickets = await pg.fetchval("SELECT count(*) FROM tickets WHERE sale_id = $1", sale_id)
    orders = await pg.fetchval("SELECT count(*) FROM orders WHERE sale_id = $1", sale_id)
    return tickets, orders


async def test_a_repeated_batch_inserts_nothing_twice(pg):
    sale_id = uuid4()
    events = [accepted(sale_id), accepted(sale_id), rejected(sale_id)]
    repository = PostgresOrders(pg)
    await repository.persist(outcomes_of(events))
    # Redelivered: the same events again, one of them twice within the batch.
    await repository.persist(outcomes_of([*events, events[0]]))
    assert await counts(pg, sale_id) == (3, 2)
    order_ids = {r["order_id"] for r in await pg.fetch("SELECT order_id FROM orders")}
    assert order_ids == {order_id_for(events[0].ticket_id), order_id_for(events[1].ticket_id)}
    reason = await pg.fetchval(
        "SELECT reason FROM tickets WHERE ticket_id = $1", events[2].ticket_id
    )
    assert reason == "sold_out"


async def test_consumer_persists_redelivered_decisions_once_and_finalises_tickets(
    servers, database_url, namespace, names, pg, redis_client, amqp, aiohttp_client
):
    settings = OrderSettings(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        intent_partitions=TEST_PARTITIONS,
    )
    await aiohttp_client(create_app(settings))
    sale_id = uuid4()
    events = [accepted(sale_id), rejected(sale_id, "limit_reached")]
    keys = Keys(namespace)
    for e in events:  # the gateway wrote these when it answered 202
        await redis_client.hset(
            keys.ticket(e.ticket_id),
            mapping={"sale_id": str(sale_id), "user_id": str(e.user_id), "status": "queued"},
        )
    async with amqp.channel(publisher_confirms=True) as channel:
        topology = await declare_topology(channel, names)
        body = encode(EventBatch(events=events))
        for _ in range(3):  # the same message three times, as after redeliveries
            await publish_confirmed(topology.decisions, body, "decisions", confirm_timeout=5)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        statuses = [await redis_client.hget(keys.ticket(e.ticket_id), "status") for e in events]
        depth = (await _declare_passive(amqp, names.decisions_queue)).declaration_result
        if statuses == ["confirmed", "rejected"] and depth.message_count == 0:
            break
        await asyncio.sleep(0.05)
    assert statuses == ["confirmed", "rejected"]
    first = await redis_client.hgetall(keys.ticket(events[0].ticket_id))
    assert first["order_id"] == str(order_id_for(events[0].ticket_id))
    second = await redis_client.hgetall(keys.ticket(events[1].ticket_id))
    assert second["reason"] == "limit_reached"
    assert "order_id" not in second
    assert await counts(pg, sale_id) == (2, 1)


async def _declare_passive(connection, name):
    channel = await connection.channel()
    try:
        return await channel.declare_queue(name, passive=True)
    finally:
        await channel.close()
