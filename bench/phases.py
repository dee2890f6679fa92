"""The engine's phases in `python -m bench`, as a table: what each one runs, what it checks.

A phase runs a crowd against a sale of its own while the processes are sampled (its Load),
then turns that into its figures and the promises it checks. Phases run in the table's order;
one may reuse the crowd of a phase before it (polls: the burst's tickets).
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiohttp
import redis.asyncio as aioredis

from bench.client import encode_request
from bench.crowd import Attempt, at_rate, burst
from bench.measure import (
    PhaseFigures,
    add_outcome_figures,
    add_process_figures,
    answer_figures,
    final_times,
)
from bench.system import PORTS, BenchConfig, Engine, ProcessSampler
from promises.checks import outcome, violations, wait_until_final
from shared.contracts.redis_layout import Keys

HOST, GATEWAY_PORT = "127.0.0.1", PORTS["gateway"]


async def _admin_post(
    session: aiohttp.ClientSession, admin: str, path: str, body: dict[str, object]
) -> tuple[int, dict[str, object]]:
    async with session.post(
        f"http://{HOST}:{GATEWAY_PORT}{path}",
        headers={"Authorization": f"Bearer {admin}"},
        json=body,
    ) as resp:
        reply: dict[str, object] = await resp.json()
        return resp.status, reply


async def create_sale(
    session: aiohttp.ClientSession, admin: str, *, stock: int, limit: int, pow_difficulty: int = 0
) -> str:
    """A sale of a product of its own (the burst does not pay: orders stay reserved). An
    older build without products (`--code`) gets a sale without one."""
    now = datetime.now(UTC)
    sale: dict[str, object] = {
        "name": f"bench {stock}",
        "stock": stock,
        "per_user_limit": limit,
        "starts_at": (now - timedelta(seconds=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    if pow_difficulty:  # only then: an older build (`--code`) knows no such term
        sale["pow_difficulty"] = pow_difficulty
    status, product = await _admin_post(
        session,
        admin,
        "/api/v1/admin/products",
        {"name": f"bench {stock}", "price": {"amount": 1000, "currency": "EUR"}},
    )
    if status == 201:
        sale["product_id"] = product["product_id"]
    elif status != 404:
        raise RuntimeError(f"cannot create a product: {status} {product}")
    status, created = await _admin_post(session, admin, "/api/v1/admin/sales", sale)
    if status != 201:
        raise RuntimeError(f"cannot create a sale: {status} {created}")
    return str(created["sale_id"])


def purchases(sale_id: str, tokens: list[str], count: int) -> list[bytes]:
    path = f"/api/v1/sales/{sale_id}/purchases"
    return [
        encode_request("POST", path, host=HOST, token=tokens[i % len(tokens)], body=b"{}")
        for i in range(count)
    ]


@dataclass
class Load:
    """What one phase's crowd did, with the processes' figures while it ran."""

    title: str  # the phase's row in the table and the JSON
    attempts: list[Attempt]
    sampler: ProcessSampler
    sale: str = ""
    limit: int = 1
    # The attempts whose tickets the promises are checked on, when not just ``attempts``.
    checked: list[Attempt] | None = None
    streams: dict[str, object] = field(default_factory=dict)
    finals: dict[str, float] = field(default_factory=dict)  # ticket -> when it became final


@dataclass
class Run:
    """What the phases share: the arguments, the engine, the tokens, the crowds so far."""

    args: argparse.Namespace
    config: BenchConfig
    engine: Engine
    session: aiohttp.ClientSession
    redis: aioredis.Redis
    admin: str
    tokens: list[str]
    loads: dict[str, Load] = field(default_factory=dict)  # by phase name

    def limit_for(self, attempts: int) -> int:
        """A per-user limit nobody reaches in a crowd of ``attempts``."""
        return math.ceil(attempts / len(self.tokens)) + 1

    async def sale(self, *, stock: int, limit: int) -> str:
        return await create_sale(self.session, self.admin, stock=stock, limit=limit)

    def purchases(self, sale_id: str, count: int) -> list[bytes]:
        return purchases(sale_id, self.tokens, count)

    async def burst(self, requests: list[bytes], label: str, concurrency: int = 0) -> list[Attempt]:
        concurrency = concurrency or self.args.concurrency
        return await burst(HOST, GATEWAY_PORT, requests, concurrency=concurrency, label=label)

    def sampler(self) -> ProcessSampler:
        return ProcessSampler(self.engine.pids())

    async def settle(self, attempts: list[Attempt]) -> None:
        """Until every ticket that got a 202 is final (at most two minutes)."""
        tickets = [UUID(a.ticket_id) for a in attempts if a.status == 202 and a.ticket_id]
        await wait_until_final(self.redis, Keys(self.config.namespace), tickets, timeout=120)

    async def broken_promises(self, load: Load) -> list[str]:
        attempts = load.attempts if load.checked is None else load.checked
        tickets = [UUID(a.ticket_id) for a in attempts if a.status == 202 and a.ticket_id]
        result = await outcome(
            self.redis,
            Keys(self.config.namespace),
            self.config.database_url,
            UUID(load.sale),
            tickets,
            timeout=120,
        )
        return violations(result, tickets=len(tickets), per_user_limit=load.limit)


# What the phases run.


async def burst_of_purchases(run: Run) -> Load:
    count = run.args.attempts
    limit = run.limit_for(count)
    sale = await run.sale(stock=count, limit=limit)
    requests = run.purchases(sale, count)
    with run.sampler() as sampler:
        attempts = await run.burst(requests, f"burst N={count:,}")
        await run.settle(attempts)
    return Load(f"burst N={count:,} C={run.args.concurrency}", attempts, sampler, sale, limit)


async def poll_every_ticket(run: Run) -> Load:
    tokens = run.tokens
    polls = [
        encode_request(
            "GET", f"/api/v1/tickets/{a.ticket_id}", host=HOST, token=tokens[a.index % len(tokens)]
        )
        for a in run.loads["burst"].attempts
        if a.status == 202
    ]
    with run.sampler() as sampler:
        attempts = await run.burst(polls, "ticket polls")
    return Load("polls (each ticket once)", attempts, sampler)


async def burst_with_open_streams(run: Run) -> Load:
    from bench.viewers import burst_with_open_streams as with_streams  # it builds on this module

    return await with_streams(run)


async def viewers_across_gateways(run: Run) -> Load:
    from bench.viewers import viewers_across_gateways as across

    return await across(run)


async def pow_cost(run: Run) -> Load:
    from bench.pow import pow_cost as measure  # it builds on this module

    return await measure(run)


async def pow_figures(run: Run, load: Load) -> PhaseFigures:
    from bench.pow import pow_figures as figures

    return await figures(run, load)


async def purchases_at_rate(run: Run) -> Load:
    rate, duration = run.args.rate, run.args.duration
    count = int(rate * duration)
    limit = run.limit_for(count)
    sale = await run.sale(stock=count, limit=limit)
    with run.sampler() as sampler:
        attempts = await at_rate(
            HOST,
            GATEWAY_PORT,
            run.purchases(sale, count),
            rate=rate,
            concurrency=run.args.concurrency,
            label=f"rate {rate:,.0f}/s",
        )
        await run.settle(attempts)
    return Load(f"rate {rate:,.0f}/s x {duration:.0f}s", attempts, sampler, sale, limit)


async def crowd_after_sold_out(run: Run) -> Load:
    sale = await run.sale(stock=100, limit=1)
    first = await run.burst(run.purchases(sale, 2_000), "selling out", concurrency=64)
    await run.settle(first)
    await asyncio.sleep(0.2)  # gateways learn "sold out" from the published update
    with run.sampler() as sampler:
        attempts = await run.burst(
            run.purchases(sale, run.args.sold_out_attempts), "after sold out"
        )
    return Load("sold_out (409 answers)", attempts, sampler, sale, 1, checked=first + attempts)


# What the phases check.


async def promises_kept(run: Run, load: Load) -> PhaseFigures:
    """Answers, outcomes end to end, processes, and the promises on the phase's tickets."""
    figures = answer_figures(load.title, load.attempts, accepted_status=202)
    load.finals = await final_times(run.config.database_url, load.sale)
    add_outcome_figures(figures, load.attempts, load.finals)
    add_process_figures(figures, load.sampler)
    figures.invariants = await run.broken_promises(load)
    return figures


async def promises_kept_and_streams_final(run: Run, load: Load) -> PhaseFigures:
    """As promises_kept, and every stream held open saw the sale's final value."""
    figures = await promises_kept(run, load)
    seen = load.streams
    if seen["failed"] or seen["with_final_value"] != seen["streams"]:
        figures.invariants = [*(figures.invariants or []), f"streams: {seen}"]
    figures.streams = seen
    return figures


async def every_poll_final(run: Run, load: Load) -> PhaseFigures:
    """Answers and processes; every polled ticket (of the burst, settled) is final."""
    figures = answer_figures(load.title, load.attempts, accepted_status=200)
    add_process_figures(figures, load.sampler)
    pending = sum(1 for a in load.attempts if a.code not in ("confirmed", "rejected"))
    figures.invariants = [f"{pending} polled tickets not final"] if pending else []
    return figures


async def sold_out_answers(run: Run, load: Load) -> PhaseFigures:
    """Answers (409 expected) and processes; the promises on the whole sale."""
    figures = answer_figures(load.title, load.attempts, accepted_status=409)
    add_process_figures(figures, load.sampler)
    figures.invariants = await run.broken_promises(load)
    return figures


@dataclass(frozen=True)
class Phase:
    name: str  # as --phases names it
    runs: Callable[[Run], Awaitable[Load]]
    checks: Callable[[Run, Load], Awaitable[PhaseFigures]]
    needs: str | None = None  # the phase whose crowd it reuses, run first even if not asked for


PHASES = (
    Phase("burst", burst_of_purchases, promises_kept),
    Phase("polls", poll_every_ticket, every_poll_final, needs="burst"),
    Phase("streams", burst_with_open_streams, promises_kept_and_streams_final),
    Phase("viewers", viewers_across_gateways, promises_kept_and_streams_final),
    Phase("rate", purchases_at_rate, promises_kept),
    Phase("sold_out", crowd_after_sold_out, sold_out_answers),
    Phase("pow", pow_cost, pow_figures),
)
