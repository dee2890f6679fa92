"""A 3-node RabbitMQ cluster loses the node that leads the hot partition's queue mid-crowd.

The services get every node in AMQP_URL; the queues are quorum queues on all three nodes. The
promise must hold through the loss: no oversell, every 202 decided and persisted, 503s only
while no node could confirm, and the clients back on another node within seconds. The node then
comes back and must rejoin with every queue replicated on all three nodes again. Private
nodes only (tests/support/rabbitmq_cluster.py).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from shared.contracts.redis_layout import SaleField
from tests.faults.checks import answered, check_http, settle, summarise
from tests.faults.crowd import answers_since
from tests.faults.rig import Rig, log_lines, open_rig, running, until
from tests.support.private_servers import PrivateRabbitMQ
from tests.support.processes import ARTIFACTS
from tests.support.rabbitmq_cluster import RabbitMQCluster, rabbitmq_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

STOCK = 300
USERS = 800


def pids(rig: Rig) -> dict[str, int | None]:
    return {s.log_path.stem: s.process.pid if s.process else None for s in rig.stack.services}


def our_queues(queues: list[dict[str, Any]], rig: Rig) -> list[dict[str, Any]]:
    prefix = f"{rig.names.namespace}."
    return [q for q in queues if q["name"].startswith(prefix)]


async def hot_queue_leader(cluster: RabbitMQCluster, via: PrivateRabbitMQ, rig: Rig) -> str:
    hot = rig.names.intents_queue(rig.names.partition_of(UUID(rig.sale_id)))
    queues = await cluster.queues(via)
    return str(next(q["leader"] for q in queues if q["name"] == hot))


async def fully_replicated(cluster: RabbitMQCluster, via: PrivateRabbitMQ, rig: Rig) -> bool:
    """Every queue of ours has a member on every node, all of them online."""
    everyone = {node.node for node in cluster.nodes}
    queues = our_queues(await cluster.queues(via), rig)
    return bool(queues) and all(
        q["type"] == "quorum" and set(q["members"]) == everyone == set(q["online"]) for q in queues
    )


async def test_hot_leader_killed_mid_crowd_then_rejoins(
    request, servers, database_url, namespace, tmp_path, figures
):
    artifacts = ARTIFACTS / request.node.name
    async with (
        rabbitmq_cluster(artifacts) as cluster,
        open_rig(
            request.node.name,
            amqp_url=cluster.url,
            database_url=database_url,
            redis_url=servers.redis_url,
            namespace=namespace,
            key_file=tmp_path / "jwt.pem",
            shared_amqp=False,
            shared_redis=True,
            stock=STOCK,
            users=USERS,
            # A standby decider: the active one may be on the node that dies.
            inventories=2,
        ) as rig,
    ):
        seed = cluster.nodes[0]
        assert await fully_replicated(cluster, seed, rig), await cluster.queues(seed)
        before = pids(rig)
        # Asked before the crowd: rabbitmqctl takes seconds on a busy machine, and the sale
        # would sell out while it ran. (A leader moves only when its node fails.)
        leader = cluster.node_named(await hot_queue_leader(cluster, seed, rig))
        survivor = next(n for n in cluster.nodes if n is not leader)
        # Services try the nodes in AMQP_URL's order, so all of them start on the first,
        # where they declared the queues (leaders go to the declaring node).
        on_leader = await cluster.connection_names(leader)
        assert on_leader, "no service connected to the node that leads the hot queue"
        crowd = rig.crowd(attempts=2 * USERS, duration=16)
        async with running(crowd) as task:
            await crowd.reached(0.05)  # well before it sells out
            left = await rig.redis.hget(rig.keys.sale(rig.sale_id), SaleField.REMAINING)
            outage = rig.outage(f"rabbitmq node {leader.node}")
            await leader.kill()
            killed = time.monotonic()

            async def new_leader() -> bool:
                return await hot_queue_leader(cluster, survivor, rig) != leader.node

            await until(new_leader, timeout=30, what="a new leader of the hot partition")
            elected = time.monotonic()
            # Back: every service connected to a live node and ready again.
            await rig.wait_all_ready(timeout=30)
            outage.back = time.monotonic()
            attempts = await task

        scenario = "RabbitMQ cluster: hot partition's leader SIGKILLed"
        fault = (
            f"3-node cluster, the node leading the hot partition's queue SIGKILLed after 5% of "
            f"{len(attempts)} attempts; a new leader {elected - killed:.1f}s later"
        )
        figures.update(answered(scenario=scenario, fault=fault, attempts=attempts))
        check_http(attempts, rig.outages)
        served = sum(answers_since(attempts, outage.back, status) for status in (202, 409))
        assert served > 0, "no answer after the clients moved"
        settled = await settle(rig, attempts)
        # Units were left at the kill, and demand exceeded the stock: the rest was decided
        # through the new leader.
        assert int(left or 0) > 0, "sold out before the kill: nothing was tested"
        assert settled.result.confirmed == STOCK, "demand exceeded stock: all of it must sell"
        assert pids(rig) == before, "a service was restarted"
        moved = {s.log_path.stem: len(log_lines(s, "next broker node")) for s in rig.stack.services}
        on_survivors = set()
        for node in cluster.nodes:
            if node is not leader:
                on_survivors |= set(await cluster.connection_names(node))
        # Every client of the dead node is back on another one.
        assert set(on_leader) <= on_survivors, (on_leader, on_survivors)

        # The node comes back on its data, rejoins, and its copies catch up.
        restarted = time.monotonic()
        await leader.start(timeout=120)
        await until(
            lambda: fully_replicated(cluster, survivor, rig),
            timeout=90,
            what="every queue back on three online members",
        )
        rejoined = time.monotonic() - restarted
        assert await cluster.running_nodes(survivor) == {n.node for n in cluster.nodes}

        figures.update(
            summarise(
                scenario=scenario,
                fault=fault,
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={
                    "new_leader_s": round(elected - killed, 2),
                    "all_ready_after_kill_s": round(outage.back - killed, 2),
                    "rejoined_and_replicated_s": round(rejoined, 2),
                },
                reconnects_to_another_node=moved,
                remaining_at_kill=int(left or 0),
                http_503_after_back=answers_since(attempts, outage.back, 503),
            )
        )
