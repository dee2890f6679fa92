"""A server goes down mid-crowd and comes back; the services recover by themselves.

Each scenario runs its own private server (tests/support/private_servers.py), never the
machine's shared one. Our processes are never restarted here: the same PIDs must serve the
crowd before, during and after the outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from tests.faults.checks import answered, check_http, recovered_at, settle, summarise
from tests.faults.crowd import answers_since
from tests.faults.link import StallableLink
from tests.faults.rig import Rig, backlog_final, log_lines, open_rig, running, until
from tests.support.private_servers import private_postgres, private_rabbitmq, private_redis
from tests.support.processes import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def decisions(rig: Rig) -> int:
    counts = await rig.redis.hmget(rig.keys.sale(rig.sale_id), ["accepted", "rejected"])
    return sum(int(c or 0) for c in counts)


def pids(rig: Rig) -> dict[str, int | None]:
    return {s.log_path.stem: s.process.pid if s.process else None for s in rig.stack.services}


async def readiness(rig: Rig) -> dict[str, bool]:
    states = await asyncio.gather(*(rig.ready(s) for s in rig.stack.services))
    return {s.log_path.stem: ok for s, ok in zip(rig.stack.services, states, strict=True)}


async def recovery_figures(rig: Rig, attempts, outage, backlog) -> dict[str, Any]:
    first = recovered_at(outage, attempts)
    return {
        "down_s": round(outage.back - outage.down, 2),
        "first_answer_after_back_s": round(first - outage.back, 2),
        "backlog_final_s": await backlog,
        "all_ready_s": round(await rig.wait_all_ready(), 2),
    }


def assert_same_processes(rig: Rig, before: dict[str, int | None]) -> None:
    assert pids(rig) == before, "a service was restarted"
    exited = [
        s.log_path.stem for s in rig.stack.services if s.process and s.process.poll() is not None
    ]
    assert not exited, f"exited during the outage: {exited}"


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_rabbitmq_restarted_mid_crowd(
    request, how, servers, database_url, namespace, tmp_path, figures
):
    # This found consumers that died for good when the broker went during a batch, so
    # that nothing was decided after the reconnect (fixed in 3fae834).
    artifacts = ARTIFACTS / request.node.name
    # The worst moment for the consumers: a batch in hand when the connection drops. Their
    # Redis links are held for a moment so that each has one when the broker goes.
    links = {name: StallableLink(servers.redis_url) for name in ("inventory", "order")}
    for link in links.values():
        await link.start()
    try:
        async with (
            private_rabbitmq(artifacts) as broker,
            open_rig(
                request.node.name,
                amqp_url=broker.url,
                database_url=database_url,
                redis_url=servers.redis_url,
                namespace=namespace,
                key_file=tmp_path / "jwt.pem",
                shared_amqp=False,
                shared_redis=True,
                overrides={
                    f"{name}_service": {"REDIS_URL": link.url} for name, link in links.items()
                },
            ) as rig,
        ):
            before = pids(rig)
            # Long enough that the crowd goes on well after the broker is back.
            crowd = rig.crowd(attempts=2000, duration=20)
            async with running(crowd) as task:
                await crowd.reached(0.25)
                # The order service first: it gets batches only while the inventory decides.
                for name in ("order", "inventory"):
                    links[name].stall()
                    await until(
                        links[name].is_holding,
                        timeout=10,
                        what=f"a batch in hand in the {name} service",
                    )
                outage = rig.outage("rabbitmq")
                await (broker.stop() if how == "stop" else broker.kill())
                gone = time.monotonic()
                for link in links.values():
                    link.resume()
                await until(
                    lambda: answers_since(crowd.attempts, gone, 503) >= 20,
                    timeout=10,
                    what="503s while the broker is down",
                )
                ready_while_down = await readiness(rig)
                await broker.start()
                outage.back = time.monotonic()
                backlog = asyncio.create_task(backlog_final(rig, crowd, outage.back, timeout=20))
                attempts = await task
            scenario = f"RabbitMQ {'clean stop' if how == 'stop' else 'SIGKILL'} + start"
            fault = (
                f"private node {'stopped (SIGTERM)' if how == 'stop' else 'SIGKILLed'} after "
                "25% of attempts with a batch in hand in the inventory and order services; "
                f"started again {outage.back - outage.down:.1f}s later"
            )
            figures.update(answered(scenario=scenario, fault=fault, attempts=attempts))
            figures["ready_while_down"] = ready_while_down
            # While it was down: 503 + Retry-After, and no 202 without a broker to confirm.
            check_http(attempts, rig.outages)
            false_202 = [a for a in attempts if a.status == 202 and gone <= a.started < outage.back]
            assert not false_202, f"{len(false_202)} answered 202 while the broker was down"
            assert answers_since(attempts, recovered_at(outage, attempts), 202) > 0
            # After it: the same processes decide and persist everything.
            try:
                recovery = await recovery_figures(rig, attempts, outage, backlog)
            except AssertionError as exc:
                figures["failure"] = str(exc)[:300]
                raise
            settled = await settle(rig, attempts)
            assert_same_processes(rig, before)
            figures.update(
                summarise(
                    scenario=scenario,
                    fault=fault,
                    attempts=attempts,
                    settled=settled,
                    rig=rig,
                    recovery=recovery,
                    ready_while_down=ready_while_down,
                )
            )
    finally:
        for link in links.values():
            await link.close()


async def test_redis_killed_mid_crowd(request, servers, database_url, namespace, tmp_path, figures):
    artifacts = ARTIFACTS / request.node.name
    async with (
        private_redis(artifacts) as cache,
        open_rig(
            request.node.name,
            amqp_url=servers.amqp_url,
            database_url=database_url,
            redis_url=cache.url,
            namespace=namespace,
            key_file=tmp_path / "jwt.pem",
            shared_amqp=True,
            shared_redis=False,
        ) as rig,
    ):
        before = pids(rig)
        crowd = rig.crowd(attempts=1500, duration=8)
        async with running(crowd) as task:
            await crowd.reached(0.4)
            outage = rig.outage("redis")
            await cache.kill()  # not a clean shutdown: only what the AOF fsynced survives
            gone = time.monotonic()
            # Down for a second at least, and long enough to turn buyers away.
            await until(
                lambda: (
                    answers_since(crowd.attempts, gone, 503) >= 10 and time.monotonic() - gone > 1
                ),
                timeout=10,
                what="503s while Redis is down",
            )
            ready_while_down = await readiness(rig)
            await cache.start()  # same directory, same AOF
            outage.back = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, outage.back, timeout=20))
            attempts = await task
        recovery = await recovery_figures(rig, attempts, outage, backlog)
        settled = await settle(rig, attempts)
        check_http(attempts, rig.outages)
        assert_same_processes(rig, before)
        figures.update(
            summarise(
                scenario="Redis SIGKILL + start (AOF, fsync always)",
                fault=(
                    "private redis-server SIGKILLed after 40% of attempts, started on the "
                    f"same AOF {recovery['down_s']}s later"
                ),
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery=recovery,
                ready_while_down=ready_while_down,
            )
        )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restarted_mid_crowd(request, mode, servers, namespace, tmp_path, figures):
    artifacts = ARTIFACTS / request.node.name
    async with (
        private_postgres(artifacts) as db,
        open_rig(
            request.node.name,
            amqp_url=servers.amqp_url,
            database_url=db.url("flashsale"),
            redis_url=servers.redis_url,
            namespace=namespace,
            key_file=tmp_path / "jwt.pem",
            shared_amqp=True,
            shared_redis=True,
        ) as rig,
    ):
        before = pids(rig)
        crowd = rig.crowd(attempts=1500, duration=8)
        async with running(crowd) as task:
            await crowd.reached(0.4)
            # A batch mid-transaction when Postgres goes: the test holds a lock on tickets,
            # so the order service's next transaction waits inside Postgres.
            blocker = await asyncpg.connect(db.url("flashsale"))
            watcher = await asyncpg.connect(db.url("flashsale"))
            try:
                await blocker.execute("BEGIN; LOCK TABLE tickets IN EXCLUSIVE MODE")
                # Watched from outside the locking transaction, whose view of
                # pg_stat_activity would stay as it was at its first read.
                await until(
                    lambda: _waiting_on_lock(watcher),
                    timeout=8,
                    what="an order transaction waiting inside Postgres",
                )
                outage = rig.outage("postgres")
                await db.stop(mode=mode)
            finally:
                blocker.terminate()
                watcher.terminate()
            gone = time.monotonic()
            decided = await decisions(rig)

            async def decided_unpersisted() -> bool:
                # Decisions keep coming while nothing can be written: a backlog builds.
                return await decisions(rig) >= decided + 20 and time.monotonic() - gone > 1

            await until(decided_unpersisted, timeout=10, what="decisions waiting for Postgres")
            ready_while_down = await readiness(rig)
            await db.start()
            outage.back = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, outage.back, timeout=20))
            attempts = await task
        recovery = await recovery_figures(rig, attempts, outage, backlog)
        settled = await settle(rig, attempts)
        # The purchase path does not touch Postgres: not even a 503 is expected.
        check_http(attempts, [])
        crashed = log_lines(rig.stack.order, "batch handler crashed")
        assert_same_processes(rig, before)
        figures.update(
            summarise(
                scenario=f"Postgres stop -m {mode} + start",
                fault=(
                    f"private cluster stopped (pg_ctl -m {mode}) after 40% of attempts with "
                    f"an order transaction in flight, started {recovery['down_s']}s later"
                ),
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery=recovery,
                ready_while_down=ready_while_down,
                order_batches_handed_back_as_crashed=len(crashed),
                order_crash_errors=sorted({e["exc"].splitlines()[-1] for e in crashed}),
            )
        )


async def _waiting_on_lock(conn: asyncpg.Connection) -> bool:
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO tickets%'"
    )
    return bool(waiting)


@pytest.mark.timeout(90)
async def test_readyz_reports_the_broker_down(request, servers, database_url, namespace, tmp_path):
    """README: "/readyz is 503 while a dependency is down" (it said ready: fixed in 3fae834)."""
    artifacts = ARTIFACTS / request.node.name
    async with (
        private_rabbitmq(artifacts) as broker,
        open_rig(
            request.node.name,
            amqp_url=broker.url,
            database_url=database_url,
            redis_url=servers.redis_url,
            namespace=namespace,
            key_file=tmp_path / "jwt.pem",
            shared_amqp=False,
            shared_redis=True,
            users=0,
        ) as rig,
    ):
        amqp_users = [rig.stack.gateway, rig.stack.inventory, rig.stack.order]
        await broker.kill()
        try:
            await until(
                lambda: _none_ready(rig, amqp_users), timeout=5, what="/readyz 503 everywhere"
            )
        finally:
            states = await readiness(rig)
        assert not any(states[s.log_path.stem] for s in amqp_users), states


async def _none_ready(rig: Rig, services) -> bool:
    states = await asyncio.gather(*(rig.ready(s) for s in services))
    return not any(states)
