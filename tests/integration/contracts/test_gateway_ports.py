"""The gateway's ports: ticket records, idempotency keys and the intent queue, fake and real
held to the same checks."""

from __future__ import annotations

from typing import cast
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from gateway.adapters.amqp_intents import AmqpIntentQueue
from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_idempotency import RedisIdempotencyKeys
from gateway.adapters.redis_tickets import RedisTicketRecords
from gateway.domain import Earlier, Intent
from shared.contracts.messages import PlacePurchase, decode_commands
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import declare_topology
from shared.runtime import request_ids
from shared.runtime.web import DEPENDENCY_ERRORS
from tests.unit.gateway.fakes import FakeIdempotency, FakeIntents, FakeTickets

pytestmark = pytest.mark.integration


def purchase(sale_id, user_id=None) -> Intent:
    return Intent(str(uuid4()), str(sale_id), str(user_id or uuid4()), 1)


# --- ticket records ----------------------------------------------------------------------


@pytest.fixture(params=["fake", "redis"])
def tickets(request, redis_client, namespace):
    if request.param == "fake":
        return FakeTickets()
    return RedisTicketRecords(redis_client, Keys(namespace), TicketBoard())


async def test_issued_tickets_are_queued_in_line_order_and_shown_to_their_owner(tickets):
    sale_id, other_sale = uuid4(), uuid4()
    batch = [purchase(sale_id), purchase(other_sale), purchase(sale_id)]
    await tickets.issue(batch)
    first, elsewhere, second = [await tickets.get(str(p.ticket_id), str(p.user_id)) for p in batch]
    assert (first.status, first.seq, first.sale_id) == ("queued", 1, str(sale_id))
    assert (second.status, second.seq) == ("queued", 2)
    assert elsewhere.seq == 1  # each sale has its own line
    assert await tickets.get(str(batch[0].ticket_id), str(uuid4())) is None  # not the owner
    assert await tickets.get(str(uuid4()), str(batch[0].user_id)) is None


async def test_a_withdrawn_batch_leaves_its_place_in_line(tickets):
    sale_id = uuid4()
    await tickets.issue([purchase(sale_id)])
    refused = [purchase(sale_id), purchase(sale_id)]
    await tickets.issue(refused)
    await tickets.withdraw(refused)
    later = purchase(sale_id)
    await tickets.issue([later])
    ticket = await tickets.get(str(later.ticket_id), str(later.user_id))
    assert ticket.seq == 2  # right behind the first: the refused two are not in line


async def test_a_failed_issue_leaves_nothing_behind(namespace):
    closed = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    board = TicketBoard()
    records = RedisTicketRecords(closed, Keys(namespace), board)
    batch = [purchase(uuid4())]
    with pytest.raises(DEPENDENCY_ERRORS):
        await records.issue(batch)
    assert board.fresh(str(batch[0].ticket_id)) is None
    await closed.aclose()


# --- idempotency keys --------------------------------------------------------------------


@pytest.fixture(params=["fake", "redis"])
def idempotency(request, redis_client, namespace):
    if request.param == "fake":
        return FakeIdempotency()
    return RedisIdempotencyKeys(redis_client, Keys(namespace), ttl=60)


async def test_a_key_is_claimed_pending_then_confirmed_then_released(idempotency):
    user, sale_id = uuid4(), uuid4()
    key = idempotency.for_request(user, sale_id, "k1")
    first, second = str(uuid4()), str(uuid4())
    assert await key.earlier() is None
    assert await key.claim(first) is None
    assert await key.earlier() == Earlier(first, in_progress=True)
    assert await idempotency.for_request(user, sale_id, "k1").claim(second) == Earlier(
        first, in_progress=True
    )
    await key.confirm(first)
    assert await key.earlier() == Earlier(first, in_progress=False)
    await key.release()
    assert await key.earlier() is None
    # Scoped: another user, sale or key is another key.
    await key.claim(first)
    for user_, sale_, name in (
        (uuid4(), sale_id, "k1"),
        (user, uuid4(), "k1"),
        (user, sale_id, "k2"),
    ):
        assert await idempotency.for_request(user_, sale_, name).earlier() is None


async def test_no_key_remembers_nothing(idempotency):
    claim = idempotency.for_request(uuid4(), uuid4(), None)
    assert await claim.claim(str(uuid4())) is None
    assert await claim.earlier() is None


# --- the intent queue ----------------------------------------------------------------------


async def in_line(intents, amqp, names, partition):
    """(purchases, request ids) of every message in a partition's line, in order."""
    if isinstance(intents, FakeIntents):
        return [(b, ids) for p, b, ids in intents.messages if p == partition]
    channel = await amqp.channel()
    queue = await channel.declare_queue(names.intents_queue(partition), passive=True)
    count = queue.declaration_result.message_count
    found: list = []
    if count == 0:
        await channel.close()
        return found
    async with queue.iterator() as messages:
        async for message in messages:
            commands = decode_commands(message.body).commands
            ids = request_ids.from_message(message.headers, len(commands))
            assert all(isinstance(c, PlacePurchase) for c in commands)
            intents = [
                Intent(str(c.ticket_id), str(c.sale_id), str(c.user_id), c.requested_at_ms)
                for c in cast(list[PlacePurchase], commands)
            ]
            found.append((intents, ids))
            await message.ack()
            if len(found) == count:
                break
    await channel.close()
    return found


@pytest.fixture(params=["fake", "amqp"])
async def intents(request, amqp, names):
    if request.param == "fake":
        return FakeIntents()
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    topology = await declare_topology(channel, names)
    return AmqpIntentQueue(topology.intents, confirm_timeout=5)


async def test_a_published_batch_is_one_message_in_its_partitions_line(intents, amqp, names):
    sale_id = uuid4()
    batch = [purchase(sale_id), purchase(sale_id)]
    await intents.publish(1, batch, ["rid-a", None])
    await intents.publish(1, [purchase(sale_id)], [None])
    lines = await in_line(intents, amqp, names, 1)
    assert [len(b) for b, _ in lines] == [2, 1]
    assert lines[0] == (batch, ["rid-a", None])
    assert await in_line(intents, amqp, names, 0) == []
