"""The promises, checked after a fault: on the HTTP answers, in Redis, in Postgres.

1. no oversell: orders <= stock and remaining = stock - accepted;
2. no buyer beyond the per-user limit;
3. every ticket answered 202 is confirmed or rejected (none stuck, none lost);
4. Postgres holds one ticket row per decided ticket and one order per confirmed ticket;
5. no 5xx but a 503 with Retry-After while a dependency was really down.

A request that got no 202 (a 503, or no answer at all) may still have been queued: the
broker can take a message whose confirm never reached the gateway, or a gateway can die
between the confirm and its answer. Such a ticket is decided like any other; it is counted
here as an "unanswered" ticket and must belong to a buyer who had such a failed attempt.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from tests.faults.crowd import Attempt, status_counts
from tests.faults.rig import Outage, Rig, log_summary
from tests.support.api import Api
from tests.support.invariants import Outcome, assert_invariants, outcome, wait_until_final
from tests.support.rabbitmq_cluster import connect_any

# Clear 4xx answers a crowd may get while it works as designed.
EXPECTED_409 = {"sold_out", "demand_exceeds_stock"}


def user_id_of(token: str) -> str:
    """The `sub` of a JWT (read, not verified: the services verified it)."""
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def recovered_at(outage: Outage, attempts: Sequence[Attempt]) -> float:
    """When the crowd was served again: the first attempt after ``back`` not answered 503."""
    if outage.back is None:
        return float("inf")
    served = [
        a.started
        for a in attempts
        if a.started >= outage.back and a.status is not None and a.status != 503
    ]
    return min(served, default=outage.back)


def check_http(
    attempts: Sequence[Attempt], outages: Sequence[Outage], *, connection_errors: bool = False
) -> None:
    """Every answer is a 202, an expected 409, or a 503 + Retry-After during an outage."""
    windows = [(o.down, recovered_at(o, attempts)) for o in outages]
    problems: Counter[str] = Counter()
    for a in attempts:
        if a.status == 202 or (a.status == 409 and a.code in EXPECTED_409):
            continue
        if a.status is None:
            if not connection_errors:
                problems[f"no answer ({a.error})"] += 1
        elif a.status == 503 and a.retry_after:
            if not any(a.started <= end and a.ended >= down for down, end in windows):
                problems["503 while every dependency was up"] += 1
        else:
            problems[f"{a.status} {a.code} (Retry-After {a.retry_after})"] += 1
    assert not problems, f"unexpected answers {dict(problems)}; all: {status_counts(attempts)}"


@dataclass
class Settled:
    result: Outcome
    issued: list[str]
    unanswered: list[str]  # decided tickets whose request got no 202
    ticket_rows: int
    seconds_to_final: float


async def _queues_empty(rig: Rig) -> bool:
    connection = await connect_any(rig.amqp_url)  # a node that is up, of a cluster's
    async with connection, connection.channel() as channel:
        queues = [rig.names.intents_queue(p) for p in range(rig.names.partitions)]
        queues.append(rig.names.decisions_queue)
        for name in queues:
            declared = await channel.declare_queue(name, passive=True)
            if declared.declaration_result.message_count:
                return False
    return True


async def _counts(rig: Rig, conn: asyncpg.Connection) -> tuple[int, int]:
    sale = await rig.redis.hmget(rig.keys.sale(rig.sale_id), ["accepted", "rejected"])
    rows = await conn.fetchval("SELECT count(*) FROM tickets WHERE sale_id = $1", rig.sale_id)
    return int(sale[0] or 0) + int(sale[1] or 0), int(rows)


async def _drained(rig: Rig, conn: asyncpg.Connection, timeout: float) -> None:
    """Wait until nothing is in line and Postgres holds every decision Redis counted."""
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        counts = await _counts(rig, conn)
        if counts[0] == counts[1] and counts == previous and await _queues_empty(rig):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not drained after {timeout}s: decided, persisted = {counts}")
        previous = counts
        await asyncio.sleep(0.3)


async def settle(rig: Rig, attempts: Sequence[Attempt], *, timeout: float = 60) -> Settled:
    """Wait for every ticket to be final, then check invariants 1-4."""
    started = time.monotonic()
    issued = [a.ticket_id for a in attempts if a.ticket_id is not None]
    assert len(set(issued)) == len(issued), "a ticket id was handed out twice"
    pending = await wait_until_final(
        rig.redis, rig.keys, [UUID(t) for t in issued], timeout=timeout
    )
    assert not pending, f"{len(pending)} tickets answered 202 never became final: {pending[:5]}"
    seconds_to_final = time.monotonic() - started
    conn = await asyncpg.connect(rig.database_url)
    try:
        await _drained(rig, conn, timeout=30)
        rows = await conn.fetch(
            "SELECT ticket_id, user_id, status FROM tickets WHERE sale_id = $1", rig.sale_id
        )
        doubled = await conn.fetchval(
            "SELECT count(*) FROM (SELECT ticket_id FROM orders WHERE sale_id = $1"
            " GROUP BY ticket_id HAVING count(*) > 1) d",
            rig.sale_id,
        )
        orphan_orders = await conn.fetchval(
            "SELECT count(*) FROM orders o JOIN tickets t USING (ticket_id)"
            " WHERE o.sale_id = $1 AND t.status <> 'confirmed'",
            rig.sale_id,
        )
    finally:
        await conn.close()
    assert doubled == 0, "a ticket has two orders"
    assert orphan_orders == 0, "an order whose ticket is not confirmed"
    persisted = {str(r["ticket_id"]): r for r in rows}
    assert len(persisted) == len(rows)
    unanswered = sorted(set(persisted) - set(issued))
    everything = [UUID(t) for t in {*issued, *persisted}]
    result = await outcome(
        rig.redis, rig.keys, rig.database_url, UUID(rig.sale_id), everything, timeout=10
    )
    assert_invariants(result, tickets=len(everything), per_user_limit=rig.per_user_limit)

    # Every 202 is persisted once, with the outcome the buyer sees.
    async with rig.redis.pipeline(transaction=False) as pipe:
        for t in issued:
            pipe.hget(rig.keys.ticket(t), "status")
        shown = await pipe.execute()
    lost = [t for t in issued if t not in persisted]
    assert not lost, f"{len(lost)} tickets answered 202 have no row in Postgres: {lost[:5]}"
    differ = [t for t, s in zip(issued, shown, strict=True) if persisted[t]["status"] != s]
    assert not differ, f"Redis and Postgres disagree on {len(differ)} tickets: {differ[:5]}"

    # Redis's per-buyer counters agree with the orders.
    buyers = await rig.redis.hgetall(rig.keys.buyers(rig.sale_id))
    assert all(int(n) <= rig.per_user_limit for n in buyers.values())
    assert sum(int(n) for n in buyers.values()) == result.accepted

    # A ticket nobody was answered 202 for comes from a request that failed for its buyer.
    failed_users = Counter(
        user_id_of(rig.tokens[a.user]) for a in attempts if a.status is None or a.status >= 500
    )
    for t in unanswered:
        user = str(persisted[t]["user_id"])
        assert failed_users[user] > 0, f"ticket {t} of {user} was never requested"
        failed_users[user] -= 1

    # What a buyer sees over HTTP agrees (a sample: the full check is above).
    live = next(g for g in rig.gateways if g.process and g.process.poll() is None)
    api = Api(rig.session, live.url)
    owners = {a.ticket_id: rig.tokens[a.user] for a in attempts if a.ticket_id}
    for t in random.Random(1).sample(issued, min(20, len(issued))):
        reply = await api.call("GET", f"/api/v1/tickets/{t}", token=owners[t])
        assert reply.status == 200, (live.url, reply)
        assert reply.body["status"] == persisted[t]["status"], reply
    return Settled(result, issued, unanswered, len(rows), seconds_to_final)


def latencies(attempts: Sequence[Attempt]) -> dict[str, dict[str, float]]:
    """p50 / p99 / max time to an answer, by answer."""
    by: dict[str, list[float]] = {}
    for a in attempts:
        key = "connection_error" if a.status is None else str(a.status)
        by.setdefault(key, []).append((a.ended - a.started) * 1000)

    def pick(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    out = {}
    for key, values in sorted(by.items()):
        values.sort()
        out[key] = {"p50": pick(values, 0.5), "p99": pick(values, 0.99), "max": pick(values, 1)}
    return out


def answered(*, scenario: str, fault: str, attempts: Sequence[Attempt]) -> dict[str, object]:
    """The HTTP side of the figures: known as soon as the crowd is done."""
    counts = Counter(a.status for a in attempts)
    return {
        "scenario": scenario,
        "fault": fault,
        "attempts": len(attempts),
        "answers": status_counts(attempts),
        "http_202": counts[202],
        "http_409": counts[409],
        "http_503": counts[503],
        "connection_errors": counts[None],
        "latency_ms": latencies(attempts),
    }


def summarise(
    *,
    scenario: str,
    fault: str,
    attempts: Sequence[Attempt],
    settled: Settled,
    rig: Rig,
    recovery: dict[str, float | None],
    **extra: object,
) -> dict[str, object]:
    """The figures of one scenario, as report.py tabulates them."""
    return {
        **answered(scenario=scenario, fault=fault, attempts=attempts),
        "confirmed": settled.result.confirmed,
        "rejected": settled.result.rejected,
        "orders": settled.result.orders,
        "stock": settled.result.stock,
        "remaining": settled.result.remaining,
        "ticket_rows": settled.ticket_rows,
        "unanswered_tickets": len(settled.unanswered),
        "seconds_to_final_after_crowd": round(settled.seconds_to_final, 2),
        "recovery": recovery,
        "warnings_and_errors": log_summary(rig),
        **extra,
    }
