"""Total Redis loss mid-sale (FLUSHALL of a private Redis), repaired by following
docs/RECONCILE.md step by step, as an operator would: the real commands as subprocesses and
the services stopped and started as processes.

Afterwards: exact counters (`reconcile` exits 0), no oversell, nobody beyond the per-user
limit, every ticket answered 202 final for its buyer over HTTP and persisted in Postgres, the
dead-letter queue empty.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Sequence

import aio_pika
import pytest

from shared.contracts.redis_layout import FINAL_STATUSES, TicketField
from tests.faults.checks import check_http, settle, summarise
from tests.faults.crowd import Attempt, answers_since, status_counts
from tests.faults.rig import (
    Outage,
    Rig,
    backlog_final,
    gather_limited,
    open_rig,
    running,
    until,
)
from tests.support.api import Api
from tests.support.private_servers import private_redis
from tests.support.processes import ARTIFACTS, ROOT, ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# More buyers than units: the stock must sell out exactly. Each buyer tries twice on average
# (limit 1). The crowd lasts long enough to find the gateways back after the repair.
STOCK, USERS, ATTEMPTS, DURATION = 200, 300, 600, 45.0


async def operator(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`python -m inventory_service <args>` with the services' settings: (exit, stdout)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inventory_service",
        *args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    text = out.decode()
    if process.returncode not in (0, 1):
        text += err.decode()
    return process.returncode, text


def figure(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return int(found.group(1))


async def stop(services: Sequence[ServiceProcess]) -> None:
    """SIGTERM, each waited for (off the loop: the crowd goes on meanwhile)."""
    await asyncio.gather(*(asyncio.to_thread(s.stop) for s in services))


async def dead_letters(rig: Rig) -> int:
    connection = await aio_pika.connect(rig.amqp_url)
    async with connection, connection.channel() as channel:
        queue = await channel.declare_queue(rig.names.dead_letter_queue, passive=True)
        return queue.declaration_result.message_count or 0


async def in_flight(rig: Rig, attempts: Sequence[Attempt]) -> dict[str, int]:
    """Of the tickets answered 202 so far: not decided yet, and decided but not persisted."""
    tickets = [a.ticket_id for a in attempts if a.ticket_id]
    async with rig.redis.pipeline(transaction=False) as pipe:
        for t in tickets:
            pipe.hmget(rig.keys.ticket(t), [TicketField.DECISION, TicketField.STATUS])
        records = await pipe.execute()
    return {
        "undecided": sum(decision is None for decision, _ in records),
        "unpersisted": sum(
            decision is not None and status not in FINAL_STATUSES for decision, status in records
        ),
    }


async def more_decided(rig: Rig, than: int, by: int) -> bool:
    return await decided(rig) >= than + by


async def decided(rig: Rig) -> int:
    counts = await rig.redis.hmget(rig.keys.sale(rig.sale_id), ["accepted", "rejected"])
    return sum(int(c or 0) for c in counts)


def check_connection_errors(attempts: Sequence[Attempt], down: float, back: float) -> None:
    """No answer only while the gateways were stopped (a load balancer answers 502 then)."""
    stray = [
        a for a in attempts if a.connection_error and not (down <= a.ended and a.started <= back)
    ]
    assert not stray, f"{len(stray)} requests unanswered outside the stop: {stray[:3]}"


async def test_total_redis_loss_mid_sale_is_repaired_by_the_runbook(
    request, servers, database_url, namespace, tmp_path, figures
):
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
            stock=STOCK,
            users=USERS,
        ) as rig,
    ):
        env = dict(rig.stack.inventory.env)
        crowd = rig.crowd(attempts=ATTEMPTS, duration=DURATION)
        async with running(crowd) as task:
            await crowd.reached(0.2)
            # The worst moment: some decisions not yet persisted (the order service paused)
            # and some intents not yet decided (the decider paused) when Redis loses them.
            paused = [rig.stack.order, *rig.inventories]
            try:
                rig.stack.order.signal(signal.SIGSTOP)
                before = await decided(rig)
                await until(
                    lambda: more_decided(rig, before, 10), timeout=20, what="unpersisted decisions"
                )
                for service in rig.inventories:
                    service.signal(signal.SIGSTOP)
                stopped = time.monotonic()
                await until(
                    lambda: answers_since(crowd.attempts, stopped, 202) >= 10,
                    timeout=20,
                    what="undecided intents",
                )
                at_flush = await in_flight(rig, crowd.attempts)
                assert at_flush["undecided"] > 0 and at_flush["unpersisted"] > 0, at_flush
                decided_before = await decided(rig)
                await rig.redis.flushall()
                flushed = time.monotonic()
            finally:
                for service in paused:
                    service.signal(signal.SIGCONT)
            # The gateways sell from the sale they cached: 202s whose intents the decider,
            # not knowing the sale any more, dead-letters (unknown_sale).
            await until(
                lambda: answers_since(crowd.attempts, flushed, 202) >= 30,
                timeout=20,
                what="202s after the flush",
            )

            # 1. Stop taking purchases.
            outage = Outage("gateways stopped (runbook)", time.monotonic())
            await stop(rig.gateways)
            # 2. Let the lines drain: `reconcile` until in flight is 0.
            checks = 0
            while True:
                _, shown = await operator(env, "reconcile", rig.sale_id)
                checks += 1
                if figure(r"in flight: (\d+) messages", shown) == 0:
                    break
                assert time.monotonic() - outage.down < 60, f"not drained:\n{shown}"
            drained = time.monotonic()
            assert "DRIFT" in shown and "sale counters present" in shown, shown
            dead_lettered = figure(r"dead letters: (\d+) messages", shown)
            assert dead_lettered > 0, shown
            # 3. Stop every inventory service.
            await stop(rig.inventories)
            # 4. Repair: rebuild from Postgres, then the dead letters back into line.
            code, repair = await operator(env, "reconcile", "--repair")
            repaired = time.monotonic()
            assert code == 0, repair
            assert "(rebuilt from Postgres)" in repair and "1 sales checked, 0 drifting" in repair
            moved = figure(r"(\d+) purchases moved back to their partitions", repair)
            assert "left in the dead-letter queue" not in repair, repair
            assert await dead_letters(rig) == 0
            # 5. Resume: the inventory services, then the gateways.
            for service in rig.inventories:
                await service.restart()
            for service in rig.gateways:
                await service.restart()
            outage.back = time.monotonic()
            backlog = asyncio.create_task(backlog_final(rig, crowd, outage.back, timeout=60))
            attempts = await task

        # The buyers poll their tickets until final; none reads 404 (records restored).
        api = Api(rig.session, rig.gateways[0].url)
        owners = {a.ticket_id: rig.tokens[a.user] for a in attempts if a.ticket_id}
        finals = await gather_limited(
            (api.wait_final(token, ticket, timeout=60) for ticket, token in owners.items()),
            limit=32,
        )
        settled = await settle(rig, attempts)

        check_connection_errors(attempts, outage.down, outage.back)
        check_http([a for a in attempts if not a.connection_error], [])
        confirmed = sum(f["status"] == "confirmed" for f in finals)
        assert confirmed == settled.result.confirmed == settled.result.orders == STOCK
        code, final = await operator(env, "reconcile")
        # What the operator saw, for docs/RECONCILE.md.
        (rig.artifacts / "runbook.txt").write_text(
            f"$ reconcile {rig.sale_id}  # drained\n{shown}\n"
            f"$ reconcile --repair\n{repair}\n$ reconcile  # at the end\n{final}"
        )
        assert code == 0, final
        assert "in flight: 0 messages" in final and "dead letters: 0 messages" in final, final
        after_back = [a for a in attempts if a.started >= outage.back]
        served = [a.started for a in after_back if a.status == 202]
        # settle() found each of them persisted with the status its buyer reads.
        lost = len(owners) - sum(f["status"] in ("confirmed", "rejected") for f in finals)
        assert lost == 0
        figures.update(
            summarise(
                scenario="Redis FLUSHALL mid-sale, repaired by the runbook",
                fault=(
                    f"private Redis flushed after 20% of attempts ({decided_before} decided);"
                    f" gateways stopped {outage.down - flushed:.1f}s later, drained, inventory"
                    " stopped, `reconcile --repair` (rebuild + dead letters back), all"
                    f" restarted {outage.back - flushed:.1f}s after the flush"
                ),
                attempts=attempts,
                settled=settled,
                rig=rig,
                recovery={
                    "first_answer_after_back_s": (
                        round(min(served) - outage.back, 2) if served else None
                    ),
                    # Every 202 answered before the gateways were back, final in Redis.
                    "backlog_final_s": await backlog,
                },
                seconds_after_flush={
                    "gateways_stopped": round(outage.down - flushed, 2),
                    "drained": round(drained - flushed, 2),
                    "repaired": round(repaired - flushed, 2),
                    "selling_again": round(outage.back - flushed, 2),
                    "first_202_again": round(min(served) - flushed, 2) if served else None,
                },
                tickets_at_flush=at_flush,
                reconcile_checks_until_drained=checks,
                dead_letter_messages=dead_lettered,
                purchases_moved_back=moved,
                answers_while_redis_lost=status_counts(
                    [a for a in attempts if flushed <= a.started < outage.down]
                ),
                attempts_after_back=len(after_back),
                lost=lost,
            )
        )
