"""Messages no consumer can process go to the dead-letter queue; the consumers keep going."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast
from uuid import uuid4

import aio_pika
import aiohttp
import pytest

from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import now_ms
from shared.contracts.topology import declare_topology
from shared.runtime.publishing import publish_confirmed
from tests.conftest import TEST_PARTITIONS
from tests.faults.rig import log_lines, terminate_all, until
from tests.support.invariants import assert_invariants, outcome
from tests.support.processes import ARTIFACTS, ServiceProcess, service_env
from tests.support.sales import seed_sale

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

STOCK, VALID = 10, 30


async def poison_counts(service: ServiceProcess, name: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{service.url}/metrics") as r:
        text = await r.text()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1 :].rsplit("} ", 1)
            if float(value):  # labels may be registered up front at 0
                counts[labels.removeprefix('reason="').removesuffix('"')] = float(value)
    return counts


async def dead_letters(
    connection: aio_pika.abc.AbstractConnection,
    queue_name: str,
    *,
    rejected: int,
    unknown_items: int,
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take dead letters (acking them) until the expected ones are in, or 15 s have passed."""
    taken: list[aio_pika.abc.AbstractIncomingMessage] = []
    seen = {"rejected": 0, "unknown": 0}
    deadline = time.monotonic() + 15
    async with connection.channel() as channel:
        queue = await channel.declare_queue(queue_name, passive=True)
        while (seen["rejected"], seen["unknown"]) != (rejected, unknown_items):
            assert time.monotonic() < deadline, f"dead letters so far: {seen}"
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            taken.append(message)
            if message.headers.get("x-poison-reason") == "unknown_sale":
                seen["unknown"] += len(json.loads(message.body)["commands"])
            else:
                seen["rejected"] += 1
    return taken


def purchase(sale_id, user_id=None) -> PlacePurchase:
    return PlacePurchase(
        ticket_id=uuid4(), sale_id=sale_id, user_id=user_id or uuid4(), requested_at_ms=now_ms()
    )


async def test_poison_messages_are_dead_lettered_and_the_consumers_keep_going(
    request, servers, database_url, namespace, names, redis_client, pg, amqp, tmp_path, figures
):
    keys = Keys(namespace)
    sale_id, _ = await seed_sale(pg, redis_client, namespace, name="poison", stock=STOCK)

    artifacts = ARTIFACTS / request.node.name
    env = service_env(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        partitions=TEST_PARTITIONS,
        key_file=tmp_path / "jwt.pem",
    )
    inventory = ServiceProcess("inventory_service", dict(env), artifacts / "inventory.log")
    order = ServiceProcess("order_service", dict(env), artifacts / "order.log")
    for path in (inventory.log_path, order.log_path):
        path.unlink(missing_ok=True)
    try:
        inventory.start()
        order.start()
        await asyncio.gather(inventory.wait_ready(), order.wait_ready())

        unknown_sale = uuid4()
        known_in_mixed = purchase(sale_id)
        version_2 = json.loads(encode(CommandBatch(commands=[purchase(sale_id)])))
        version_2["version"] = 2
        partition = str(names.partition_of(sale_id))
        intents = [
            (b"\xff\xfe not json at all", partition),
            (json.dumps(version_2).encode(), partition),
            (encode(CommandBatch(commands=[purchase(unknown_sale)])),
             str(names.partition_of(unknown_sale))),
            # One unknown item in a batch: only that item is dead-lettered.
            (encode(CommandBatch(commands=[purchase(unknown_sale), known_in_mixed])), partition),
        ]  # fmt: skip
        valid = [purchase(sale_id) for _ in range(VALID)]
        async with amqp.channel(publisher_confirms=True, on_return_raises=True) as channel:
            topology = await declare_topology(channel, names)
            for body, key in intents:
                await publish_confirmed(topology.intents, body, key, confirm_timeout=5)
            await publish_confirmed(
                topology.decisions, b"{undecodable", "decisions", confirm_timeout=5
            )
            # Valid intents behind the poison, on the same partition.
            for item in valid:
                body = encode(CommandBatch(commands=[item]))
                await publish_confirmed(topology.intents, body, partition, confirm_timeout=5)

        # The consumers kept going: every valid intent is decided and persisted.
        tickets = [known_in_mixed.ticket_id, *(i.ticket_id for i in valid)]
        result = await outcome(redis_client, keys, database_url, sale_id, tickets, timeout=30)
        assert_invariants(result, tickets=len(tickets), per_user_limit=1)
        assert result.accepted == STOCK

        # In the dead-letter queue, each saying why it is there: the three rejected messages
        # as they were, and the two unknown-sale items (one message per decided batch: both
        # items share one when their messages were decided together).
        dead = await dead_letters(amqp, names.dead_letter_queue, rejected=3, unknown_items=2)
        rejected = sorted(
            (str(death["queue"]), str(death["reason"]), m.body[:12])
            for m in dead
            for death in cast(list[dict[str, Any]], m.headers.get("x-death") or [])
        )
        intents_queue = names.intents_queue(int(partition))
        assert rejected == sorted(
            [
                (intents_queue, "rejected", b"\xff\xfe not json "),
                (intents_queue, "rejected", b'{"type": "co'),
                (names.decisions_queue, "rejected", b"{undecodable"),
            ]
        ), rejected
        unknown_items = [
            c
            for m in dead
            if m.headers.get("x-poison-reason") == "unknown_sale"
            for c in json.loads(m.body)["commands"]
        ]
        assert sorted(c["sale_id"] for c in unknown_items) == [str(unknown_sale)] * 2
        async with amqp.channel() as channel:
            leftover = await channel.declare_queue(names.dead_letter_queue, passive=True)
            assert leftover.declaration_result.message_count == 0

        # Counted in /metrics.
        inventory_poison = await poison_counts(inventory, "inventory_poison_messages_total")
        order_poison = await poison_counts(order, "orders_poison_messages_total")
        assert inventory_poison == {"PoisonMessage": 1, "UnsupportedVersion": 1, "UnknownSale": 2}
        assert order_poison == {"PoisonMessage": 1}

        # One clear error line each, naming the reason.
        await until(
            lambda: len(log_lines(inventory, "poison intent message dead-lettered")) == 2,
            timeout=5,
            what="inventory poison log lines",
        )
        bad = log_lines(inventory, "poison intent message dead-lettered")
        assert {e["level"] for e in bad} == {"error"}
        assert "undecodable body" in bad[0]["reason"]
        assert "version 2 is not supported" in bad[1]["reason"]
        unknown_logged = log_lines(inventory, "intent for an unknown sale dead-lettered")
        assert [e["sale_id"] for e in unknown_logged] == [str(unknown_sale)] * 2
        undecodable = log_lines(order, "poison decision message dead-lettered")
        assert len(undecodable) == 1 and "undecodable body" in undecodable[0]["reason"]
        figures.update(
            scenario="poison messages",
            fault="4 bad intent messages + 1 bad decision message, then 30 valid intents",
            attempts=len(tickets),
            http_202=None,
            http_503=None,
            connection_errors=None,
            confirmed=result.confirmed,
            rejected=result.rejected,
            orders=result.orders,
            stock=result.stock,
            remaining=result.remaining,
            dead_letter_messages=len(dead),
            inventory_poison=inventory_poison,
            orders_poison=order_poison,
            recovery={},
            measured_at=time.time(),
        )
    finally:
        terminate_all([inventory, order])
