"""Queueing purchases on the real Redis and broker: a batch fails as a whole and alone, never
with a false 202, and what a failed batch wrote is taken back."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from gateway.adapters.amqp_intents import AmqpIntentQueue
from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_idempotency import RedisIdempotencyKeys
from gateway.adapters.redis_sales import SaleCache
from gateway.adapters.redis_tickets import RedisTicketRecords
from gateway.domain import AdmissionLimits
from gateway.handlers import Purchases
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import NewSale
from shared.contracts.errors import Conflict, ServiceUnavailable
from shared.contracts.messages import decode_commands
from shared.contracts.redis_layout import Keys, SaleField
from shared.contracts.topology import Names, declare_topology, partition_of

pytestmark = pytest.mark.integration


def sale_in(partition: int, partitions: int) -> UUID:
    while True:
        sale_id = uuid4()
        if partition_of(sale_id, partitions) == partition:
            return sale_id


async def open_sale(redis_client, namespace, sale_id: UUID) -> UUID:
    now = datetime.now(UTC)
    sale = NewSale(
        name="drop", stock=100, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(1)
    )
    await RedisSaleStore(redis_client, Keys(namespace)).create(sale_id, sale)
    return sale_id


async def drain(channel, queue_name):
    """Every message in the queue (basic.get is refused on single-active-consumer queues)."""
    queue = await channel.declare_queue(queue_name, passive=True)
    expected = queue.declaration_result.message_count
    bodies = []
    async with queue.iterator() as messages:
        if expected:
            async for message in messages:
                bodies.append(message.body)
                await message.ack()
                if len(bodies) == expected:
                    break
    return bodies


@pytest.fixture
async def queueing(amqp, names, redis_client, namespace):
    """Purchases that believe in one partition more than the broker has (whose queues are
    bounded to 3 messages)."""
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    topology = await declare_topology(channel, replace(names, intent_queue_max_length=3))
    keys = Keys(namespace)
    wrong = Names(names.namespace, names.partitions + 1)
    tickets = RedisTicketRecords(redis_client, keys, TicketBoard())
    purchases = Purchases(
        sales=SaleCache(redis_client, keys),
        tickets=tickets,
        intents=AmqpIntentQueue(topology.intents, confirm_timeout=5),
        idempotency=RedisIdempotencyKeys(redis_client, keys, ttl=60),
        names=wrong,
        limits=AdmissionLimits(demand_factor=1e9, demand_slack=10**9, partition_max_waiting=10**9),
        linger=0.005,
        max_batch=100,
    )
    yield purchases, tickets, wrong, channel
    await purchases.close()
    await channel.close()


async def test_an_unroutable_batch_fails_alone(queueing, names, redis_client, namespace):
    purchases, tickets, wrong, channel = queueing
    routable = await open_sale(redis_client, namespace, sale_in(0, wrong.partitions))
    unroutable = await open_sale(
        redis_client, namespace, sale_in(wrong.partitions - 1, wrong.partitions)
    )  # no such queue
    users = [uuid4() for _ in range(7)]
    results = await asyncio.gather(
        *(purchases.place(u, routable, None) for u in users[:3]),
        *(purchases.place(u, unroutable, f"key-{u}") for u in users[3:]),
        return_exceptions=True,
    )
    good = [r for r in results[:3] if isinstance(r, tuple)]
    bad = results[3:]
    assert [status for _, status in good] == ["queued"] * 3, results
    for failed in bad:
        assert isinstance(failed, ServiceUnavailable), failed
        assert failed.headers["Retry-After"]
    # Exactly the good batch reached its queue, as one message.
    [body] = await drain(channel, names.intents_queue(0))
    commands = decode_commands(body).commands
    assert [str(getattr(c, "ticket_id", None)) for c in commands] == [r[0] for r in good]
    # Counted as waiting in line: the confirmed batch; the refused one was taken back.
    keys = Keys(namespace)
    assert await redis_client.hget(keys.sale(routable), SaleField.ENQUEUED) == "3"
    assert await redis_client.hget(keys.sale(unroutable), SaleField.ENQUEUED) == "0"
    for (ticket_id, _), user in zip(good, users[:3], strict=True):
        assert await tickets.get(ticket_id, str(user)) is not None
    # A refused request's Idempotency-Key is free again: the repeat is tried anew.
    retry = await asyncio.gather(
        purchases.place(users[3], unroutable, f"key-{users[3]}"), return_exceptions=True
    )
    assert isinstance(retry[0], ServiceUnavailable)  # not Conflict "request_in_progress"
    assert not isinstance(retry[0], Conflict)


async def test_a_full_queue_nacks_and_every_request_of_that_batch_gets_503(
    queueing, names, redis_client, namespace
):
    purchases, _, wrong, channel = queueing
    sale_id = await open_sale(redis_client, namespace, sale_in(1, wrong.partitions))
    # x-max-length 3 (batches): a quorum queue refuses once it is *over* the limit, so the
    # fourth batch still lands and the fifth is nacked.
    accepted = 0
    for _ in range(6):
        try:
            await purchases.place(uuid4(), sale_id, None)
        except ServiceUnavailable:
            break
        accepted += 1
    assert accepted == 4
    over = await asyncio.gather(
        *(purchases.place(uuid4(), sale_id, None) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ServiceUnavailable) for r in over), over
    assert len(await drain(channel, names.intents_queue(1))) == 4
