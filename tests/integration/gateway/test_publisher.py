"""Micro-batched publishing: a batch fails as a whole and alone, never with a false 202."""

import asyncio
from dataclasses import replace
from uuid import UUID, uuid4

import pytest

from gateway.adapters.amqp_intents import IntentPublisher
from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_sales import SaleCache
from gateway.adapters.redis_tickets import Tickets, TicketStore
from shared.contracts.errors import ServiceUnavailable
from shared.contracts.messages import PlacePurchase, decode_commands
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names, declare_topology, partition_of

pytestmark = pytest.mark.integration


def sale_in(partition: int, partitions: int) -> UUID:
    while True:
        sale_id = uuid4()
        if partition_of(sale_id, partitions) == partition:
            return sale_id


def purchase(sale_id: UUID) -> PlacePurchase:
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=1)


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
async def publishing(amqp, names, redis_client, namespace):
    """A publisher that believes in one partition more than the broker has."""
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    topology = await declare_topology(channel, replace(names, intent_queue_max_length=3))
    keys = Keys(namespace)
    wrong = Names(names.namespace, names.partitions + 1)
    publisher = IntentPublisher(
        topology.intents,
        Tickets(
            TicketStore(redis_client, keys, idempotency_ttl=60),
            TicketBoard(),
            SaleCache(redis_client, keys),
        ),
        wrong,
        linger=0.005,
        max_batch=100,
        confirm_timeout=5,
    )
    yield publisher, wrong, channel
    await publisher.close()
    await channel.close()


async def test_an_unroutable_batch_fails_alone(publishing, names, redis_client, namespace):
    publisher, wrong, channel = publishing
    routable = sale_in(0, wrong.partitions)
    unroutable = sale_in(wrong.partitions - 1, wrong.partitions)  # no such queue
    good = [purchase(routable) for _ in range(3)]
    bad = [purchase(unroutable) for _ in range(4)]
    results = await asyncio.gather(
        *(publisher.submit(p) for p in [*good, *bad]), return_exceptions=True
    )
    assert results[:3] == [None, None, None]
    for failed in results[3:]:
        assert isinstance(failed, ServiceUnavailable)
        assert failed.status == 503
        assert failed.headers["Retry-After"]
    # Exactly the good batch reached its queue, as one message.
    bodies = await drain(channel, names.intents_queue(0))
    assert len(bodies) == 1
    assert decode_commands(bodies[0]).commands == good
    # Counted as waiting in line: the confirmed batch; the refused one was taken back.
    assert await redis_client.hget(Keys(namespace).sale(routable), "enqueued") == "3"
    assert await redis_client.hget(Keys(namespace).sale(unroutable), "enqueued") == "0"
    board = publisher._tickets.board
    assert all(board.fresh(str(p.ticket_id)) for p in good)
    assert not any(board.fresh(str(p.ticket_id)) for p in bad)


async def test_a_full_queue_nacks_and_every_request_of_that_batch_gets_503(publishing, names):
    publisher, wrong, channel = publishing
    sale_id = sale_in(1, wrong.partitions)
    # x-max-length 3 (batches): a quorum queue refuses once it is *over* the limit, so the
    # fourth batch still lands and the fifth is nacked.
    accepted = 0
    for _ in range(6):
        try:
            await publisher.submit(purchase(sale_id))
        except ServiceUnavailable:
            break
        accepted += 1
    assert accepted == 4
    over = await asyncio.gather(
        *(publisher.submit(purchase(sale_id)) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ServiceUnavailable) for r in over), over
    assert len(await drain(channel, names.intents_queue(1))) == 4
