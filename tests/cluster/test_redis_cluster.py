"""The whole stack on a Redis Cluster of three masters (REDIS_CLUSTER=true): a flash crowd.

Three private cluster nodes split the 16384 slots; the four services reach them through a
cluster client that knows only the first node's URL. Keys are hash-tagged by sale
(shared/contracts/redis_layout.py): a sale's keys and its tickets' keys share a slot, so
each script call runs on one node. The crowd's checks are the fault scenarios' (exactly the
stock confirmed, no oversell, no buyer past the limit, every 202 final and persisted); then
the keys are looked for node by node: the hot sale's all on the node of its slot, and a
second sale, on another node, sells and takes a stock top-up there. Shared RabbitMQ and
Postgres, under the test's own namespace and database.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_tickets import RedisTicketRecords
from gateway.domain import Intent
from inventory_service.adapters.redis_sales import RedisSaleStore, legacy_product
from inventory_service.domain import Accepted, NewSale, Rejected, StockIncreased
from inventory_service.reconciliation import Outcome, Rebuild
from order_service.adapters.postgres_payments import OrderChange
from order_service.adapters.redis_tickets import RedisTicketFinaliser
from shared.contracts.messages import AddStock, PlacePurchase
from shared.contracts.redis_layout import Keys, TicketField, ticket_id_for
from shared.contracts.sales import datetime_to_ms
from shared.runtime.resources import open_redis_cluster
from tests.faults.checks import check_http, settle, summarise
from tests.faults.rig import ADMIN, Rig, open_rig, running
from tests.support.processes import ARTIFACTS
from tests.support.redis_cluster import PrivateRedisCluster, private_redis_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STOCK = 150
USERS = 300


@pytest.fixture
async def cluster(request) -> AsyncIterator[PrivateRedisCluster]:
    async with private_redis_cluster(ARTIFACTS / f"{request.node.name}-nodes") as nodes:
        yield nodes


async def keys_by_node(cluster: PrivateRedisCluster, namespace: str) -> dict[int, set[str]]:
    """The namespace's keys on each node (by port), read from each node itself."""
    found = {}
    for node in cluster.nodes:
        client = aioredis.Redis(port=node.port, decode_responses=True)
        try:
            found[node.port] = {k async for k in client.scan_iter(f"{namespace}:*", count=1000)}
        finally:
            await client.aclose()
    return found


def kinds(keys: set[str], namespace: str) -> dict[str, int]:
    """How many keys of each kind ("sale", "ticket", "{auth}:fail", ...) a node holds."""
    counts: Counter[str] = Counter()
    for key in keys:
        parts = key.removeprefix(f"{namespace}:").split(":")
        tagged = parts[0].startswith("{")
        kind = parts[1] if tagged and parts[0] != "{auth}" else ":".join(parts[:2])
        counts[kind + (":" + parts[-1] if parts[-1] in ("buyers", "waitlist") else "")] += 1
    return dict(counts)


def node_of(by_node: dict[int, set[str]], key: str) -> int:
    [port] = [port for port, keys in by_node.items() if key in keys]
    return port


async def sale_on_another_node(rig: Rig, admin: str, cluster: PrivateRedisCluster) -> str:
    """A new sale whose keys are not on the hot sale's node (one in three is not)."""
    hot_node = await _owner(cluster, key_slot(rig.keys.sale(rig.sale_id).encode()))
    for _ in range(30):
        sale = await rig.api.create_sale(admin, stock=5)
        if await _owner(cluster, key_slot(rig.keys.sale(sale["sale_id"]).encode())) != hot_node:
            return str(sale["sale_id"])
    raise AssertionError("30 sales in a row on the hot sale's node")


async def _owner(cluster: PrivateRedisCluster, slot: int) -> int:
    client = aioredis.Redis(port=cluster.nodes[0].port, decode_responses=True)
    try:
        for start, end, (_, port, *_) in await client.execute_command("CLUSTER SLOTS"):
            if int(start) <= slot <= int(end):
                return int(port)
    finally:
        await client.aclose()
    raise AssertionError(f"no node serves slot {slot}")


async def test_a_flash_crowd_on_a_three_master_cluster(
    request, cluster, servers, database_url, namespace, tmp_path, figures
):
    checks_client = await open_redis_cluster(cluster.url)
    async with open_rig(
        request.node.name,
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=cluster.url,  # one node: the client learns the others
        namespace=namespace,
        key_file=tmp_path / "jwt.pem",
        shared_amqp=True,
        shared_redis=False,
        stock=STOCK,
        users=USERS,
        env={"REDIS_CLUSTER": "true"},
        redis=checks_client,
    ) as rig:
        crowd = rig.crowd(attempts=2 * USERS, duration=10)
        started = time.monotonic()
        async with running(crowd) as task:
            attempts = await task
        crowd_s = time.monotonic() - started
        check_http(attempts, rig.outages)
        settled = await settle(rig, attempts)
        assert settled.result.confirmed == STOCK, "demand was twice the stock: all of it sold"
        assert settled.result.remaining == 0

        # The hot sale's keys, its tickets' among them, are all on the node of its slot.
        by_node = await keys_by_node(cluster, namespace)
        keys = Keys(namespace)
        hot_node = node_of(by_node, keys.sale(rig.sale_id))
        assert hot_node == await _owner(cluster, key_slot(keys.sale(rig.sale_id).encode()))
        assert keys.buyers(rig.sale_id) in by_node[hot_node]
        assert all(keys.ticket(t) in by_node[hot_node] for t in settled.issued)
        hot_tag = keys.sale(rig.sale_id).split("}")[0] + "}"
        elsewhere = [k for port, ks in by_node.items() if port != hot_node for k in ks]
        assert not [k for k in elsewhere if k.startswith(hot_tag)]

        # A second sale, on another node: a purchase is decided there and a stock top-up
        # (an operator command, stored under the sale's tag) is applied there.
        api = rig.api
        admin = await api.login(*ADMIN)
        other = await sale_on_another_node(rig, admin, cluster)
        buyer = rig.tokens[0]
        reply = await api.purchase(buyer, other)
        assert reply.status == 202, reply
        ticket = await api.wait_final(buyer, reply.body["ticket_id"])
        assert ticket["status"] == "confirmed", ticket
        topped = await api.call(
            "POST", f"/api/v1/admin/sales/{other}/stock", token=admin, json={"add": 2}
        )
        assert topped.status == 200, topped
        assert (topped.body["status"], topped.body["stock"], topped.body["remaining"]) == (
            "applied",
            7,
            6,
        )
        by_node = await keys_by_node(cluster, namespace)
        other_node = node_of(by_node, keys.sale(other))
        assert other_node != hot_node
        assert keys.ticket(reply.body["ticket_id"]) in by_node[other_node]
        assert keys.command(other, UUID(topped.body["command_id"])) in by_node[other_node]
        nodes_with_sales = {p for p, ks in by_node.items() if any(":sale:" in k for k in ks)}
        assert len(nodes_with_sales) >= 2

        figures.update(
            summarise(
                scenario="Redis Cluster, 3 masters (REDIS_CLUSTER=true)",
                fault="none: the engine on a cluster instead of one Redis",
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={},
                crowd_s=round(crowd_s, 2),
                keys_per_node={str(p): kinds(ks, namespace) for p, ks in by_node.items()},
                hot_sale_node=hot_node,
                second_sale_node=other_node,
            )
        )
        print(f"\n{figures['answers']}\nkeys per node: {figures['keys_per_node']}")


async def test_one_batch_of_sales_on_different_nodes_is_split_by_slot(cluster, namespace):
    """The gateway's issue, the decider's batch and the order service's finalise each get
    purchases of two sales on two nodes at once: one script call per slot, answers in order."""
    client = await open_redis_cluster(cluster.url)
    keys = Keys(namespace)
    try:
        store = RedisSaleStore(client, keys)
        first = uuid4()
        node = await _owner(cluster, key_slot(keys.sale(first).encode()))
        second = uuid4()
        while await _owner(cluster, key_slot(keys.sale(second).encode())) == node:
            second = uuid4()
        now = datetime.now(UTC)
        for sale_id in (first, second):
            terms = NewSale(
                name="drop",
                stock=1,
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(hours=1),
            )
            assert await store.create(sale_id, terms)
        buys = [
            PlacePurchase(
                ticket_id=ticket_id_for(sale_id),
                sale_id=sale_id,
                user_id=uuid4(),
                requested_at_ms=datetime_to_ms(now),
            )
            for sale_id in (first, second, first, second)
        ]
        await RedisTicketRecords(client, keys, TicketBoard()).issue(
            [
                Intent(str(b.ticket_id), str(b.sale_id), str(b.user_id), b.requested_at_ms)
                for b in buys
            ]
        )
        top_up = AddStock(command_id=uuid4(), sale_id=second, quantity=1, requested_at_ms=0)
        decisions = await store.decide([*buys, top_up])
        assert decisions == [
            Accepted(buys[0].ticket_id),
            Accepted(buys[1].ticket_id),
            Rejected(buys[2].ticket_id, "sold_out"),
            Rejected(buys[3].ticket_id, "sold_out"),
            StockIncreased(top_up.command_id, stock=2, remaining=1),
        ]
        assert await store.decide(buys[::-1]) == decisions[3::-1]  # redelivered: same answers
        changes = [OrderChange(uuid4(), b.ticket_id, "awaiting_payment") for b in buys[:2]]
        await RedisTicketFinaliser(client, keys).show_orders(changes)
        for purchase, status in zip(
            buys, ["confirmed", "confirmed", "queued", "queued"], strict=True
        ):
            fields = await client.hgetall(keys.ticket(purchase.ticket_id))
            assert fields[TicketField.SEQ] in ("1", "2")
            assert fields[TicketField.STATUS] == status, (purchase, fields)
        counters = [await store.counters(s) for s in (first, second)]
        assert [c and c["remaining"] for c in counters] == [0, 1]
        # What reconcile reads: one transaction over the sale's keys, on its node.
        state = await store.hot_state(second)
        assert state is not None
        assert (state.stock, state.remaining, state.buyers, state.waiting) == (2, 1, 1, 0)
        # What reconcile --repair writes: the sale's keys in one transaction, then its tickets
        # (one minted before tickets carried their sale's tag may be anywhere).
        winner, legacy = buys[0], uuid4()
        outcomes = [
            Outcome(winner.ticket_id, winner.user_id, "confirmed", None, uuid4(), "paid"),
            Outcome(legacy, uuid4(), "rejected", "sold_out", None, None),
        ]
        rebuilt = Rebuild(
            remaining=0, accepted=1, rejected=1, released=0, decided=2,
            buyers={winner.user_id: 1},
        )  # fmt: skip
        await store.replace(first, terms, legacy_product(first, "drop"), rebuilt, outcomes)
        state = await store.hot_state(first)
        assert state is not None
        assert (state.accepted, state.rejected, state.remaining, state.buyers) == (1, 1, 0, 1)
        assert await client.hget(keys.ticket(legacy), TicketField.DECISION) == "r:sold_out"
        assert await client.hget(keys.ticket(winner.ticket_id), TicketField.ORDER_STATUS) == "paid"
    finally:
        await client.aclose()
