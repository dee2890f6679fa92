"""`requeue-dead-letters` on the real broker and Redis: the purchases of a sale that exists go
back to its partition with their records restored; every other dead letter stays as it was;
a second run moves nothing."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.dead_letters import REASON_HEADER, UNKNOWN_SALE
from inventory_service.domain import NewSale
from inventory_service.entrypoints.cli import run_requeue
from inventory_service.settings import InventorySettings
from shared.contracts.messages import Command, CommandBatch, PlacePurchase, decode_commands, encode
from shared.contracts.redis_layout import Keys, SaleField, TicketField
from shared.contracts.topology import declare_topology
from shared.runtime import request_ids
from shared.runtime.publishing import publish_confirmed
from tests.conftest import TEST_PARTITIONS

pytestmark = pytest.mark.integration


def buy(sale_id: UUID) -> PlacePurchase:
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=1)


async def depth(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0


async def consume(queue: aio_pika.abc.AbstractQueue, count: int) -> list[Any]:
    """``count`` messages, acked (a partition has a single active consumer: no basic.get)."""
    taken: list[Any] = []
    done = asyncio.Event()

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        taken.append(message)
        if len(taken) == count:
            done.set()

    tag = await queue.consume(take)
    await asyncio.wait_for(done.wait(), timeout=10)
    await queue.cancel(tag)
    return taken


async def test_only_purchases_of_existing_sales_move_and_only_once(
    servers, database_url, namespace, names, redis_client, amqp
):
    keys = Keys(namespace)
    now = datetime.now(UTC)
    known, missing = uuid4(), uuid4()
    await RedisSaleStore(redis_client, keys).create(
        known, NewSale(name="drop", stock=5, starts_at=now, ends_at=now + timedelta(hours=1))
    )
    first, second, decided, mixed_known, mixed_missing, stranger = (
        buy(known), buy(known), buy(known), buy(known), buy(missing), buy(missing),
    )  # fmt: skip
    # One of them was decided before (a rebuild wrote its record): it is not counted again.
    await redis_client.hset(keys.ticket(decided.ticket_id), TicketField.DECISION, "a")

    channel = await amqp.channel(publisher_confirms=True)
    topology = await declare_topology(channel, names)
    dlx = await channel.get_exchange(names.dead_letter_exchange)
    letters = [
        ([first, second, decided], ["r1", "r2", "r3"]),
        ([mixed_known, mixed_missing], ["r4", "r5"]),
        ([stranger], ["r6"]),
    ]
    for commands, ids in letters:
        await publish_confirmed(
            dlx,
            encode(CommandBatch(commands=list(commands))),
            "",
            confirm_timeout=5,
            headers={REASON_HEADER: UNKNOWN_SALE, **request_ids.message_headers(ids)},
        )
    # Dead-lettered by the broker (no reason of ours), and undecodable: never touched.
    await publish_confirmed(dlx, b"not json", "", confirm_timeout=5)
    partition = names.intents_queue(names.partition_of(known))
    assert await depth(channel, names.dead_letter_queue) == 4

    settings = InventorySettings(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        intent_partitions=TEST_PARTITIONS,
    )
    out = io.StringIO()
    assert await run_requeue(settings, [], out=out) == 0
    report = out.getvalue()
    assert "4 messages read; 4 purchases moved back to their partitions (2 messages)" in report
    assert f"sale {known}: 4 purchases moved" in report

    # In the partition, in dead-letter order, with their request ids (two messages: one per
    # moved letter).
    moved: list[tuple[Command, str | None]] = []
    for message in await consume(topology.intent_queues[names.partition_of(known)], 2):
        batch = decode_commands(message.body).commands
        moved += zip(batch, request_ids.from_message(message.headers, len(batch)), strict=True)
    assert moved == [
        (first, "r1"), (second, "r2"), (decided, "r3"), (mixed_known, "r4"),
    ]  # fmt: skip
    assert await depth(channel, partition) == 0

    # Left: the broker's dead letter, the missing sale's purchase, and the rest of the mix.
    assert await depth(channel, names.dead_letter_queue) == 3

    # The undecided tickets read as queued again, in the sale's line; the decided one is as
    # it was.
    for n, purchase in enumerate([first, second, mixed_known], start=1):
        record = await redis_client.hgetall(keys.ticket(purchase.ticket_id))
        assert record == {
            TicketField.SALE_ID: str(known),
            TicketField.USER_ID: str(purchase.user_id),
            TicketField.STATUS: "queued",
            TicketField.SEQ: str(n),
        }
    assert await redis_client.hgetall(keys.ticket(decided.ticket_id)) == {TicketField.DECISION: "a"}
    assert await redis_client.hget(keys.sale(known), SaleField.ENQUEUED) == "3"
    assert not await redis_client.exists(keys.ticket(stranger.ticket_id))

    # Again: nothing more to move, nothing counted twice, nothing lost.
    out = io.StringIO()
    assert await run_requeue(settings, [], out=out) == 0
    assert "3 messages read; 0 purchases moved" in out.getvalue()
    assert "2 (unknown_sale, the sale still does not exist)" in out.getvalue()
    assert await depth(channel, names.dead_letter_queue) == 3
    assert await depth(channel, partition) == 0
    assert await redis_client.hget(keys.sale(known), SaleField.ENQUEUED) == "3"
    kept = []
    dead_letters = await channel.declare_queue(names.dead_letter_queue, passive=True)
    while (message := await dead_letters.get(fail=False)) is not None:
        await message.ack()
        kept.append((message.body, message.headers.get(REASON_HEADER)))
    assert sorted(kept, key=str) == sorted(
        [
            (b"not json", None),
            (encode(CommandBatch(commands=[stranger])), UNKNOWN_SALE),
            (encode(CommandBatch(commands=[mixed_missing])), UNKNOWN_SALE),
        ],
        key=str,
    )
    await channel.close()
