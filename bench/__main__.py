"""`python -m bench` (`make bench`): a flash crowd against the engine and the conventional design.

Starts the engine fresh (namespace `bench`, database `flashsale_bench`, ports 1808x, so a
`make run` can stay up), seeds users with `auth_service issue-tokens` (no bcrypt per user),
then runs phases: a burst (N attempts at concurrency C), a rate (R attempts/s for T s), a
sold-out crowd, ticket polls, and the same burst against the conventional design. Prints a
table, checks the invariants, writes bench/results/bench-<time>.json and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import uvloop

from bench.client import encode_request
from bench.crowd import Attempt, at_rate, burst
from bench.invariants import outcome, violations, wait_until_final
from bench.measure import (
    PhaseFigures,
    add_outcome_figures,
    add_process_figures,
    answer_figures,
    final_times,
)
from bench.report import chart, table, write_json
from bench.streams import Streams
from bench.system import (
    RESULTS,
    ROOT,
    BenchConfig,
    Engine,
    ProcessSampler,
    issue_tokens,
    reset,
    wait_ready,
)
from shared.contracts.redis_layout import Keys

HOST, GATEWAY_PORT, BASELINE_PORT = "127.0.0.1", 18080, 18090


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--attempts", type=int, default=40_000, help="burst size N")
    p.add_argument("--concurrency", type=int, default=256, help="connections C")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=3_000, help="rate phase: attempts per second")
    p.add_argument("--duration", type=float, default=10, help="rate phase: seconds")
    p.add_argument("--sold-out-attempts", type=int, default=40_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the services' event loop",
    )
    p.add_argument(
        "--log-level",
        choices=["WARNING", "INFO"],
        default="WARNING",
        help="the services' LOG_LEVEL; INFO writes an access-log line per request (the"
        " services' default), WARNING measures the engine without it",
    )
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument(
        "--warm-tokens",
        action="store_true",
        help="let every token make one request before the phases, so the gateway has verified "
        "them all (the steady state); without it the burst starts with cold tokens, like a sale",
    )
    p.add_argument(
        "--streams",
        type=int,
        default=2_000,
        help="streams phase: sale event streams held open during a burst",
    )
    p.add_argument(
        "--phases",
        default="burst,polls,streams,rate,sold_out",
        help="comma-separated subset of burst,polls,streams,rate,sold_out",
    )
    p.add_argument("--label", default="", help="a note stored with the results")
    p.add_argument(
        "--code",
        type=Path,
        default=None,
        help="run the services from this checkout (e.g. a git worktree of an older commit)",
    )
    return p.parse_args(argv)


async def create_sale(session: aiohttp.ClientSession, admin: str, *, stock: int, limit: int) -> str:
    now = datetime.now(UTC)
    async with session.post(
        f"http://{HOST}:{GATEWAY_PORT}/api/v1/admin/sales",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "name": f"bench {stock}",
            "stock": stock,
            "per_user_limit": limit,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    ) as resp:
        body = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"cannot create a sale: {resp.status} {body}")
        return str(body["sale_id"])


def purchases(
    sale_id: str, tokens: list[str], count: int, *, path: str | None = None
) -> list[bytes]:
    path = path or f"/api/v1/sales/{sale_id}/purchases"
    return [
        encode_request("POST", path, host=HOST, token=tokens[i % len(tokens)], body=b"{}")
        for i in range(count)
    ]


async def settle(redis_client: aioredis.Redis, keys: Keys, attempts: list[Attempt]) -> list[str]:
    tickets = [a.ticket_id for a in attempts if a.status == 202 and a.ticket_id]
    return await wait_until_final(redis_client, keys, tickets, timeout=120)  # type: ignore[arg-type]


async def check(
    config: BenchConfig,
    redis_client: aioredis.Redis,
    sale_id: str,
    attempts: list[Attempt],
    limit: int,
) -> list[str]:
    from uuid import UUID

    tickets = [UUID(a.ticket_id) for a in attempts if a.status == 202 and a.ticket_id]
    result = await outcome(
        redis_client,
        Keys(config.namespace),
        config.database_url,
        UUID(sale_id),
        tickets,
        timeout=120,
    )
    return violations(result, tickets=len(tickets), per_user_limit=limit)


async def purchase_figures(
    name: str,
    attempts: list[Attempt],
    sampler: ProcessSampler,
    *,
    config: BenchConfig,
    redis_client: aioredis.Redis,
    sale_id: str,
    limit: int,
) -> tuple[PhaseFigures, dict[str, float]]:
    """A purchase phase's figures (answers, outcomes, processes, invariants) and each
    ticket's time of final."""
    figures = answer_figures(name, attempts, accepted_status=202)
    finals = await final_times(config.database_url, sale_id)
    add_outcome_figures(figures, attempts, finals)
    add_process_figures(figures, sampler)
    figures.invariants = await check(config, redis_client, sale_id, attempts, limit)
    return figures, finals


async def engine_phases(
    args: argparse.Namespace, config: BenchConfig
) -> tuple[list[PhaseFigures], dict[str, Any]]:
    engine = Engine(config)
    await engine.start()
    keys = Keys(config.namespace)
    redis_client = aioredis.Redis.from_url(config.redis_url, decode_responses=True, protocol=2)
    phases: list[PhaseFigures] = []
    raw: dict[str, Any] = {}
    wanted = set(args.phases.split(","))
    try:
        print(f"seeding {args.users:,} users and tokens …", file=sys.stderr, flush=True)
        users = issue_tokens(config, args.users, prefix="bench")
        tokens = [u["access_token"] for u in users]
        admin = issue_tokens(config, 1, prefix="benchadmin", role="admin")[0]["access_token"]
        async with aiohttp.ClientSession() as session:
            warm = await create_sale(session, admin, stock=2_000, limit=10)
            await burst(
                HOST, GATEWAY_PORT, purchases(warm, tokens, 2_000), concurrency=64, label="warm-up"
            )
            if args.warm_tokens:
                # An authenticated request that touches nothing else: a ticket that is not.
                probe = "/api/v1/tickets/00000000-0000-0000-0000-000000000000"
                await burst(
                    HOST,
                    GATEWAY_PORT,
                    [encode_request("GET", probe, host=HOST, token=t) for t in tokens],
                    concurrency=64,
                    label="verifying tokens",
                )

            if "burst" in wanted or "polls" in wanted:
                limit = math.ceil(args.attempts / len(tokens)) + 1
                sale = await create_sale(session, admin, stock=args.attempts, limit=limit)
                requests = purchases(sale, tokens, args.attempts)
                with ProcessSampler(engine.pids()) as rss:
                    attempts = await burst(
                        HOST,
                        GATEWAY_PORT,
                        requests,
                        concurrency=args.concurrency,
                        label=f"burst N={args.attempts:,}",
                    )
                    await settle(redis_client, keys, attempts)
                figures, finals = await purchase_figures(
                    f"burst N={args.attempts:,} C={args.concurrency}",
                    attempts,
                    rss,
                    config=config,
                    redis_client=redis_client,
                    sale_id=sale,
                    limit=limit,
                )
                phases.append(figures)
                raw["burst"] = (attempts, finals)

                if "polls" in wanted:
                    polls = [
                        encode_request(
                            "GET",
                            f"/api/v1/tickets/{a.ticket_id}",
                            host=HOST,
                            token=tokens[a.index % len(tokens)],
                        )
                        for a in attempts
                        if a.status == 202
                    ]
                    with ProcessSampler(engine.pids()) as sampler:
                        polled = await burst(
                            HOST,
                            GATEWAY_PORT,
                            polls,
                            concurrency=args.concurrency,
                            label="ticket polls",
                        )
                    figures = answer_figures(
                        "polls (each ticket once)", polled, accepted_status=200
                    )
                    add_process_figures(figures, sampler)
                    finals_seen = sum(1 for a in polled if a.code in ("confirmed", "rejected"))
                    figures.invariants = (
                        []
                        if finals_seen == len(polls)
                        else [f"{len(polls) - finals_seen} polled tickets not final"]
                    )
                    phases.append(figures)

            if "streams" in wanted:
                limit = math.ceil(args.attempts / len(tokens)) + 1
                sale = await create_sale(session, admin, stock=args.attempts, limit=limit)
                async with Streams(HOST, GATEWAY_PORT, sale, args.streams) as streams:
                    with ProcessSampler(engine.pids()) as sampler:
                        attempts = await burst(
                            HOST,
                            GATEWAY_PORT,
                            purchases(sale, tokens, args.attempts),
                            concurrency=args.concurrency,
                            label=f"burst, {args.streams:,} streams",
                        )
                        await settle(redis_client, keys, attempts)
                    await asyncio.sleep(1)  # the last coalesced event of every stream
                    seen = streams.summary(final_remaining=0)
                figures, _ = await purchase_figures(
                    f"streams: burst N={args.attempts:,} + {args.streams:,} open streams",
                    attempts,
                    sampler,
                    config=config,
                    redis_client=redis_client,
                    sale_id=sale,
                    limit=limit,
                )
                if seen["failed"] or seen["with_final_value"] != args.streams:
                    figures.invariants = [*(figures.invariants or []), f"streams: {seen}"]
                figures.streams = seen
                phases.append(figures)

            if "rate" in wanted:
                count = int(args.rate * args.duration)
                limit = math.ceil(count / len(tokens)) + 1
                sale = await create_sale(session, admin, stock=count, limit=limit)
                with ProcessSampler(engine.pids()) as rss:
                    attempts = await at_rate(
                        HOST,
                        GATEWAY_PORT,
                        purchases(sale, tokens, count),
                        rate=args.rate,
                        concurrency=args.concurrency,
                        label=f"rate {args.rate:,.0f}/s",
                    )
                    await settle(redis_client, keys, attempts)
                figures, finals = await purchase_figures(
                    f"rate {args.rate:,.0f}/s x {args.duration:.0f}s",
                    attempts,
                    rss,
                    config=config,
                    redis_client=redis_client,
                    sale_id=sale,
                    limit=limit,
                )
                phases.append(figures)
                raw["rate"] = (attempts, finals)

            if "sold_out" in wanted:
                sale = await create_sale(session, admin, stock=100, limit=1)
                first = await burst(
                    HOST,
                    GATEWAY_PORT,
                    purchases(sale, tokens, 2_000),
                    concurrency=64,
                    label="selling out",
                )
                await settle(redis_client, keys, first)
                await asyncio.sleep(0.2)  # gateways learn "sold out" from the published update
                with ProcessSampler(engine.pids()) as sampler:
                    attempts = await burst(
                        HOST,
                        GATEWAY_PORT,
                        purchases(sale, tokens, args.sold_out_attempts),
                        concurrency=args.concurrency,
                        label="after sold out",
                    )
                figures = answer_figures("sold_out (409 answers)", attempts, accepted_status=409)
                add_process_figures(figures, sampler)
                figures.invariants = await check(config, redis_client, sale, first + attempts, 1)
                phases.append(figures)
    finally:
        await redis_client.aclose()
        engine.stop()
    return phases, raw


async def baseline_phase(
    args: argparse.Namespace, config: BenchConfig
) -> tuple[PhaseFigures, list[Attempt]]:
    """The same burst against the conventional design, with the engine stopped."""
    auth = subprocess.Popen(
        [sys.executable, "-m", "auth_service"],
        cwd=ROOT,
        env={**config.env(), "PORT": "18081"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes = [auth]
    try:
        await wait_ready("http://127.0.0.1:18081", auth)
        # Only now: the conventional app reads the signing keys from auth when it starts.
        baseline = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline"],
            cwd=ROOT,
            env={**config.env(), "PORT": str(BASELINE_PORT)},
            stdout=(RESULTS / "baseline.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(baseline)
        await wait_ready(f"http://{HOST}:{BASELINE_PORT}", baseline)
        users = issue_tokens(config, args.users, prefix="bench")
        tokens = [u["access_token"] for u in users]
        limit = math.ceil(args.attempts / len(tokens)) + 1
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://{HOST}:{BASELINE_PORT}/baseline/sales",
                json={"stock": args.attempts, "per_user_limit": limit},
            ) as resp,
        ):
            sale = (await resp.json())["sale_id"]
        path = f"/baseline/sales/{sale}/purchases"
        requests = [
            encode_request("POST", path, host=HOST, token=tokens[i % len(tokens)], body=b"{}")
            for i in range(args.attempts)
        ]
        with ProcessSampler({"baseline": baseline.pid}) as rss:
            attempts = await burst(
                HOST,
                BASELINE_PORT,
                requests,
                concurrency=args.concurrency,
                label="conventional design",
            )
        figures = answer_figures(
            f"conventional N={args.attempts:,} C={args.concurrency}", attempts, accepted_status=201
        )
        # Its answer is the outcome: the order is committed (or refused) before it replies.
        figures.outcomes = sum(1 for a in attempts if a.status in (201, 409))
        figures.outcomes_per_s = figures.outcomes / figures.seconds
        add_process_figures(figures, rss)
        return figures, attempts
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)


async def main(args: argparse.Namespace) -> int:
    config = BenchConfig.from_env()
    config.partitions = args.partitions
    config.uvloop = args.event_loop == "uvloop"
    config.log_level = args.log_level
    if args.code is not None:
        config.code_root = args.code.resolve()
    print("resetting the bench namespace and database …", file=sys.stderr, flush=True)
    await reset(config)
    phases, raw = await engine_phases(args, config)
    baseline_attempts: list[Attempt] = []
    ratio = math.nan
    if not args.skip_baseline:
        figures, baseline_attempts = await baseline_phase(args, config)
        phases.append(figures)
        engine_burst = next((p for p in phases if p.name.startswith("burst")), None)
        if engine_burst is not None:
            ratio = engine_burst.outcomes_per_s / figures.outcomes_per_s
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "time": stamp,
        "label": args.label,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "event_loop": args.event_loop,
        "code": str(config.code_root),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=config.code_root,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    header = f"flash-sale bench {stamp} ({meta['machine']}, services on {args.event_loop})"
    print(table(phases, ratio=ratio, header=header))
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / f"bench-{stamp}.json", meta, phases, ratio)
    charted = "burst" in raw and "rate" in raw
    if charted:
        chart(
            RESULTS / f"bench-{stamp}.png",
            burst=raw["burst"][0],
            burst_finals=raw["burst"][1],
            rate=raw["rate"][0],
            rate_finals=raw["rate"][1],
            baseline=baseline_attempts,
        )
    # The chart's panels are the burst and the rate phase: without both there is none.
    print(f"\nresults: bench/results/bench-{stamp}.json" + (" (and .png)" if charted else ""))
    broken = [v for p in phases for v in (p.invariants or [])]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(parse_args())))
