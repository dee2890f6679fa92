"""Our own processes die mid-crowd (SIGKILL: no shutdown, no flush); nothing promised is lost."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import asyncpg
import pytest

from tests.faults.checks import check_http, settle, summarise
from tests.faults.link import StallableLink
from tests.faults.rig import Rig, backlog_final, rig_on_shared_servers, running, until
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ATTEMPTS, DURATION = 1500, 7.5  # 200 purchases/s; the stock lasts ~60% of the stream


async def decisions_made(rig: Rig, service: ServiceProcess) -> float:
    return sum((await rig.metric(service, "inventory_decisions_total")).values())


async def test_inventory_killed_mid_stream_and_restarted(
    request, servers, database_url, namespace, tmp_path, figures
):
    async with rig_on_shared_servers(request, servers, database_url, namespace, tmp_path) as rig:
        inventory = rig.inventories[0]
        crowd = rig.crowd(attempts=ATTEMPTS, duration=DURATION)
        async with running(crowd) as task:
            await crowd.reached(0.4)
            decided_before = await decisions_made(rig, inventory)
            inventory.kill()
            killed = time.monotonic()
            await inventory.restart()
            back = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, back))
            attempts = await task
        settled = await settle(rig, attempts)
        check_http(attempts, rig.outages)
        assert decided_before > 0, "the kill landed before any decision"
        figures.update(
            summarise(
                scenario="inventory_service SIGKILL, restarted",
                fault=f"SIGKILL after 40% of attempts; restarted, ready {back - killed:.1f}s later",
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={"backlog_final_s": await backlog},
                decided_before_kill=decided_before,
            )
        )


async def test_standby_inventory_takes_over_without_a_restart(
    request, servers, database_url, namespace, tmp_path, figures
):
    async with rig_on_shared_servers(
        request, servers, database_url, namespace, tmp_path, inventories=2
    ) as rig:
        active, standby = rig.inventories
        crowd = rig.crowd(attempts=ATTEMPTS, duration=DURATION)
        async with running(crowd) as task:
            await crowd.reached(0.4)
            decided_before = await decisions_made(rig, active)
            assert await decisions_made(rig, standby) == 0, "the standby was deciding"
            active.kill()
            killed = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, killed))
            attempts = await task
        settled = await settle(rig, attempts)
        check_http(attempts, rig.outages)
        taken_over = await decisions_made(rig, standby)
        assert decided_before > 0, "the kill landed before any decision"
        assert taken_over > 0, "the standby never took over"
        figures.update(
            summarise(
                scenario="inventory_service SIGKILL, standby takes over",
                fault="SIGKILL the active of two replicas after 40% of attempts; no restart",
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={"backlog_final_s": await backlog},
                decided_by_active=decided_before,
                decided_by_standby=taken_over,
            )
        )


async def _committed_not_final(rig: Rig) -> set[str]:
    """Tickets whose outcome is committed in Postgres but not yet shown in Redis."""
    conn = await asyncpg.connect(rig.database_url)
    try:
        rows = await conn.fetch("SELECT ticket_id FROM tickets WHERE sale_id = $1", rig.sale_id)
    finally:
        await conn.close()
    ids = [str(r["ticket_id"]) for r in rows]
    async with rig.redis.pipeline(transaction=False) as pipe:
        for t in ids:
            pipe.hget(rig.keys.ticket(t), "status")
        statuses = await pipe.execute()
    return {t for t, s in zip(ids, statuses, strict=True) if s not in ("confirmed", "rejected")}


async def test_order_service_killed_mid_batch_and_restarted(
    request, servers, database_url, namespace, tmp_path, figures
):
    # Only the order service reaches Redis through the link: stalling it freezes that
    # service between its Postgres commit and its Redis writes (and so before its ack).
    link = StallableLink(servers.redis_url)
    await link.start()
    try:
        async with rig_on_shared_servers(
            request,
            servers,
            database_url,
            namespace,
            tmp_path,
            overrides={"order_service": {"REDIS_URL": link.url}},
        ) as rig:
            order = rig.stack.order
            crowd = rig.crowd(attempts=ATTEMPTS, duration=DURATION)
            async with running(crowd) as task:
                await crowd.reached(0.4)
                link.stall()
                in_hand: set[str] = set()

                async def batch_in_hand() -> bool:
                    nonlocal in_hand
                    in_hand = await _committed_not_final(rig)
                    return bool(in_hand)

                await until(batch_in_hand, timeout=10, what="a committed batch in hand")
                conn = await asyncpg.connect(rig.database_url)
                try:
                    killed_at_db = await conn.fetchval("SELECT now()")
                finally:
                    await conn.close()
                order.kill()
                killed = time.monotonic()
                link.cut()
                link.resume()
                await order.restart()
                back = time.monotonic()
                backlog = asyncio.create_task(backlog_final(rig, crowd, back))
                attempts = await task
            settled = await settle(rig, attempts)
            check_http(attempts, rig.outages)

            # The batch in hand was redelivered and changed nothing in Postgres: one row
            # each, written before the kill; its outcomes are now shown to the buyers.
            conn = await asyncpg.connect(rig.database_url)
            try:
                rows = await conn.fetch(
                    "SELECT ticket_id, persisted_at FROM tickets WHERE ticket_id = ANY($1)",
                    [UUID(t) for t in in_hand],
                )
            finally:
                await conn.close()
            assert len(rows) == len(in_hand)
            assert all(r["persisted_at"] < killed_at_db for r in rows)
            async with rig.redis.pipeline(transaction=False) as pipe:
                for t in in_hand:
                    pipe.hget(rig.keys.ticket(t), "status")
                statuses = await pipe.execute()
            assert set(statuses) <= {"confirmed", "rejected"}
            persisted_after = sum(
                (await rig.metric(order, "orders_outcomes_persisted_total")).values()
            )
            figures.update(
                summarise(
                    scenario="order_service SIGKILL mid-batch, restarted",
                    fault=(
                        "Redis link stalled after 40% of attempts; SIGKILL with "
                        f"{len(in_hand)} outcomes committed, unacked; restarted, ready "
                        f"{back - killed:.1f}s later"
                    ),
                    attempts=attempts,
                    settled=settled,
                    rig=rig,
                    recovery={"backlog_final_s": await backlog},
                    committed_unacked_at_kill=len(in_hand),
                    outcomes_handled_by_restarted_service=persisted_after,
                )
            )
    finally:
        await link.close()


async def test_gateway_killed_during_a_crowd(
    request, servers, database_url, namespace, tmp_path, figures
):
    async with rig_on_shared_servers(
        request,
        servers,
        database_url,
        namespace,
        tmp_path,
        gateways=2,
        # A longer linger keeps a few requests in flight on each gateway at any moment.
        env={"PUBLISH_LINGER_MS": "20"},
    ) as rig:
        victim = 1
        crowd = rig.crowd(attempts=ATTEMPTS, duration=DURATION)
        async with running(crowd) as task:
            await crowd.reached(0.4)
            await until(lambda: crowd.in_flight[victim] > 0, timeout=5, what="requests in flight")
            in_flight = crowd.in_flight[victim]
            rig.gateways[victim].kill()
            killed = time.monotonic()
            crowd.retire(victim)  # the load balancer stops sending it traffic
            attempts = await task
        settled = await settle(rig, attempts)
        check_http(attempts, rig.outages, connection_errors=True)
        lost = [a for a in attempts if a.connection_error]
        # Only requests in flight at the kill went unanswered, and none of them got a 202.
        assert all(a.gateway == victim and a.started < killed < a.ended for a in lost), lost
        assert len(lost) <= in_flight
        before = [a for a in attempts if a.gateway == victim and a.ticket_id]
        assert before, "the killed gateway had answered nothing"
        figures.update(
            summarise(
                scenario="gateway SIGKILL (one of two)",
                fault=f"SIGKILL one of two gateways after 40% of attempts, {in_flight} in flight",
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={"backlog_final_s": None},
                in_flight_at_kill=in_flight,
                tickets_from_killed_gateway=len(before),
            )
        )
