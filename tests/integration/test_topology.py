"""The topology as declared: quorum queues, single active consumer, routing by partition."""

from uuid import uuid4

import pytest
from aiormq.exceptions import ChannelPreconditionFailed

from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.topology import declare_topology, partition_of
from shared.runtime.publishing import PublishFailed, publish_confirmed

pytestmark = pytest.mark.integration


def test_partition_is_stable_and_spread():
    sale = uuid4()
    assert partition_of(sale, 4) == partition_of(sale, 4)
    seen = {partition_of(uuid4(), 4) for _ in range(200)}
    assert seen == {0, 1, 2, 3}


async def test_declaring_twice_is_idempotent_and_routes_by_partition(amqp, names):
    async with amqp.channel(publisher_confirms=True, on_return_raises=True) as channel:
        topology = await declare_topology(channel, names)
        topology = await declare_topology(channel, names)  # every service declares it
        sale_id = uuid4()
        partition = names.partition_of(sale_id)
        body = encode(
            CommandBatch(
                commands=[
                    PlacePurchase(
                        ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=1
                    )
                ]
            )
        )
        await publish_confirmed(topology.intents, body, str(partition), confirm_timeout=5)
        depths = []
        for p in range(names.partitions):
            q = await channel.declare_queue(names.intents_queue(p), passive=True)
            depths.append(q.declaration_result.message_count)
        assert depths[partition] == 1
        assert sum(depths) == 1


async def test_unroutable_publish_is_an_error_not_a_ticket(amqp, names):
    async with amqp.channel(publisher_confirms=True, on_return_raises=True) as channel:
        topology = await declare_topology(channel, names)
        with pytest.raises(PublishFailed):
            await publish_confirmed(topology.intents, b"{}", "no-such-partition", confirm_timeout=5)


@pytest.mark.parametrize(
    "arguments",
    [
        {"x-queue-type": "classic"},
        {"x-queue-type": "quorum"},  # missing single-active-consumer and the rest
    ],
)
async def test_partition_queues_are_quorum_with_single_active_consumer(amqp, names, arguments):
    async with amqp.channel() as channel:
        await declare_topology(channel, names)
    channel = await amqp.channel()
    # Redeclaring with other arguments fails: the broker holds the declared ones.
    with pytest.raises(ChannelPreconditionFailed):
        await channel.declare_queue(names.intents_queue(0), durable=True, arguments=arguments)
