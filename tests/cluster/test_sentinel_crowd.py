"""The whole stack on Redis with replicas and Sentinel: the primary is SIGKILLed mid-crowd.

A private primary, its replica(s) and three Sentinels; the four services find the primary
through the Sentinels (REDIS_SENTINELS) and the decider publishes a decision only once a
replica holds it (REDIS_MIN_REPLICA_ACKS=1). The Sentinels promote a replica and the same
processes follow it. With one replica, the new primary has none until the old primary is
started again and becomes its replica: decisions wait until then. With two, the Sentinels
point the other replica at the new primary and the old one stays dead. Nothing is lost or
oversold on the way.

What goes wrong without the acks (a decision the replica never had, given out twice after
the failover) is shown on the store alone in test_redis_sentinel.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.runtime.resources import open_redis_via_sentinel
from tests.faults.checks import answered, check_http, recovered_at, settle, summarise
from tests.faults.crowd import answers_since
from tests.faults.rig import ADMIN, backlog_final, log_lines, open_rig, running, until
from tests.faults.test_server_restarts import assert_same_processes, pids, readiness
from tests.support.private_servers import PrivateRedis, PrivateSentinel, replicas_online
from tests.support.processes import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MASTER = "flashsale"
STOCK = 150
USERS = 300


async def _info(port: int, section: str) -> dict[str, Any]:
    client = aioredis.Redis(port=port, decode_responses=True, socket_timeout=1)
    try:
        return await client.info(section)
    except (RedisError, OSError):
        return {}
    finally:
        await client.aclose()


async def sentinels_see_everyone(sentinels: list[PrivateSentinel], replicas: int) -> bool:
    """Each Sentinel knows the replicas and the two other Sentinels (so a failover can be
    agreed on at once)."""
    for sentinel in sentinels:
        client = aioredis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=1)
        try:
            master: Any = await client.sentinel_master(MASTER)
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()
        if int(master["num-slaves"]) < replicas or int(master["num-other-sentinels"]) < 2:
            return False
    return True


async def named_primary(sentinel: PrivateSentinel) -> int | None:
    """The primary's port as this Sentinel names it."""
    client = aioredis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=1)
    try:
        address: Any = await client.sentinel_get_master_addr_by_name(MASTER)
    except (RedisError, OSError):
        return None
    finally:
        await client.aclose()
    return int(address[1]) if address else None


@pytest.fixture
async def replicated(request) -> AsyncIterator[tuple[PrivateRedis, list, list]]:
    """A primary, ``request.param`` replicas (synced) and three Sentinels that know them
    and each other."""
    artifacts = ARTIFACTS / request.node.name
    primary = PrivateRedis(artifacts)
    servers: list[PrivateRedis | PrivateSentinel] = [primary]
    try:
        await primary.start()
        replicas = [PrivateRedis(artifacts, replica_of=primary.port) for _ in range(request.param)]
        servers.extend(replicas)
        for replica in replicas:
            await replica.start()
        await until(
            lambda: _equals(replicas_online(primary.port), len(replicas)),
            timeout=20,
            what="replicas synced",
        )
        sentinels = [
            PrivateSentinel(artifacts, primary_port=primary.port, master=MASTER) for _ in range(3)
        ]
        servers.extend(sentinels)
        for sentinel in sentinels:
            await sentinel.start()
        await until(
            lambda: sentinels_see_everyone(sentinels, len(replicas)),
            timeout=30,
            what="Sentinels in touch",
        )
        yield primary, replicas, sentinels
    finally:
        for server in servers:
            server.close()


async def _equals(value: Any, expected: int) -> bool:
    return await value == expected


@pytest.mark.parametrize("replicated", [1, 2], ids=["one_replica", "two_replicas"], indirect=True)
async def test_primary_killed_mid_crowd_sentinel_promotes_and_nothing_is_lost(
    request, replicated, servers, database_url, namespace, tmp_path, figures
):
    primary, replicas, sentinels = replicated
    scenario = (
        f"Redis primary SIGKILL, Sentinel failover, {len(replicas)} replica(s),"
        " REDIS_MIN_REPLICA_ACKS=1"
    )
    addresses = [s.address for s in sentinels]
    # The checks read through Sentinel too: after the failover they must see the new primary.
    checks_client = await open_redis_via_sentinel(primary.url, addresses, MASTER)
    async with open_rig(
        request.node.name,
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url="redis://sentinel/0",  # the host is the Sentinels'; the database is 0
        namespace=namespace,
        key_file=tmp_path / "jwt.pem",
        shared_amqp=True,
        shared_redis=False,
        stock=STOCK,
        users=USERS,
        env={
            "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in addresses),
            "REDIS_SENTINEL_MASTER": MASTER,
            "REDIS_MIN_REPLICA_ACKS": "1",
        },
        redis=checks_client,
    ) as rig:
        before = pids(rig)
        # Two attempts per buyer over 30 s: the stock is still selling when the primary dies
        # and long after the old primary is back as a replica.
        crowd = rig.crowd(attempts=2 * USERS, duration=30)
        async with running(crowd) as task:
            await crowd.reached(0.25)
            decided_before = await _decided(rig)
            outage = rig.outage("redis primary")
            await primary.kill()
            killed, killed_at = outage.down, datetime.now(UTC)
            await until(
                lambda: _promoted(sentinels, [r.port for r in replicas]),
                timeout=30,
                what="a replica promoted by the Sentinels",
            )
            promoted = time.monotonic()
            # The services find the new primary by themselves: only 503s until then.
            outage.back = promoted
            new_primary = await _named(sentinels)
            assert new_primary is not None
            ready_without_replica = await readiness(rig)
            # Until it has a replica again, decisions are refused (not published unsafe).
            if len(replicas) == 1:
                await primary.start()  # its AOF; the Sentinels make it the new one's replica
            await until(
                lambda: _equals(replicas_online(new_primary), 1),
                timeout=40,
                what="a replica synced with the new primary",
            )
            resynced = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, resynced, timeout=30))
            attempts = await task
        figures.update(answered(scenario=scenario, fault="", attempts=attempts))
        check_http(attempts, rig.outages)
        first_202 = min(
            (a.ended for a in attempts if a.status == 202 and a.started >= killed),
            default=float("inf"),
        )
        recovery: dict[str, float | None] = {
            "promoted_s": round(promoted - killed, 2),
            "first_202_after_kill_s": round(first_202 - killed, 2),
            "replica_synced_s": round(resynced - killed, 2),
            "first_503_free_s": round(recovered_at(outage, attempts) - killed, 2),
            "backlog_final_after_resync_s": await backlog,
            "all_ready_s": round(await rig.wait_all_ready(), 2),
            "decided_before_kill": decided_before,
        }
        settled = await settle(rig, attempts)  # asserts every 202 persisted: none lost
        # The auth service follows too (its login throttle is in Redis; the crowd's tokens
        # were issued before the kill, so only a login after it shows that).
        await rig.api.login(*ADMIN)
        assert_same_processes(rig, before)
        assert settled.result.confirmed == STOCK, "demand exceeded the stock: all of it sold"
        assert answers_since(attempts, first_202, 202) > 0
        refused = log_lines(rig.stack.inventory, "batch failed, retrying")
        # When the decider last had to hold a batch back: decisions safe again after that.
        recovery["last_batch_held_back_s"] = max(
            (round((_logged_at(e) - killed_at).total_seconds(), 2) for e in refused),
            default=None,
        )
        # More than one failover (a Sentinel losing sight of the new primary too) shows as a
        # configuration epoch above 1.
        recovery["failovers"] = await _config_epoch(sentinels)
        if len(replicas) == 1:
            # The gate held: with no replica, batches were refused rather than published.
            assert refused, "decisions went out while the new primary had no replica"
        figures.update(
            summarise(
                scenario=scenario,
                fault=(
                    "private primary SIGKILLed after 25% of attempts; the Sentinels promoted "
                    f"a replica {recovery['promoted_s']} s later; "
                    + (
                        "the old primary started again and synced as its replica"
                        if len(replicas) == 1
                        else "the other replica synced with it (the old primary stays dead)"
                    )
                    + f" {recovery['replica_synced_s']} s after the kill"
                ),
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery=recovery,
                ready_without_replica=ready_without_replica,
                decider_retries=len(refused),
                lost=0,
            )
        )
        print(f"\n{figures['answers']}\n{recovery}")


async def _promoted(sentinels: list[PrivateSentinel], ports: list[int]) -> bool:
    """Two Sentinels name one of ``ports`` and it serves as a primary."""
    port = await _named(sentinels)
    if port not in ports:
        return False
    return (await _info(port, "replication")).get("role") == "master"


def _logged_at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))


async def _config_epoch(sentinels: list[PrivateSentinel]) -> int | None:
    """The highest configuration epoch a Sentinel reports: one per failover done."""
    epochs = []
    for sentinel in sentinels:
        client = aioredis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=1)
        try:
            master: Any = await client.sentinel_master(MASTER)
            epochs.append(int(master["config-epoch"]))
        except (RedisError, OSError, KeyError):
            continue
        finally:
            await client.aclose()
    return max(epochs, default=None)


async def _named(sentinels: list[PrivateSentinel]) -> int | None:
    """The primary most Sentinels name (at least two of them), if any."""
    named = await asyncio.gather(*(named_primary(s) for s in sentinels))
    for port in set(named):
        if port is not None and named.count(port) >= 2:
            return port
    return None


async def _decided(rig) -> int:
    counts = await rig.redis.hmget(rig.keys.sale(rig.sale_id), ["accepted", "rejected"])
    return sum(int(c or 0) for c in counts)
