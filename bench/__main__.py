"""`python -m bench` (`make bench`): a flash crowd against the engine and the conventional design.

First measures the floor (bench.floor: a bare aiohttp handler), then starts the engine fresh
(namespace `bench`, database `flashsale_bench`, ports 1808x, so a `make run` can stay up),
seeds users with `auth_service issue-tokens` (no bcrypt per user), then runs phases: a burst
(N attempts at concurrency C), ticket polls, the burst again with 18,000 sale streams open on
the one gateway (streams), a burst watched by 50,000 streams over three gateway processes on
one port (viewers; bench/viewers.py, bench/stream_load.py), a rate (R attempts/s for T s), a
sold-out crowd, purchases of a sale with a proof of work against one without, alternated
(pow: what checking a solution costs the gateway), and the same burst against the
conventional design; last, what
REDIS_MIN_REPLICA_ACKS costs one sale's decider on a private Redis primary + replica
(bench/replicas.py). Prints a table and issue 13's targets (bench/targets.py), checks the
invariants, writes bench/results/bench-<time>.json and .png. The viewers' phases need
`ulimit -n` of at least 20,000 (each stream is a socket in a gateway and a load worker).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
import uvloop

from bench import floor, replicas, targets
from bench.client import encode_request
from bench.crowd import Attempt, burst
from bench.floor import Floor
from bench.measure import PhaseFigures, add_process_figures, answer_figures
from bench.phases import HOST, PHASES, Load, Run
from bench.report import chart, table, write_json
from bench.system import (
    PORTS,
    RESULTS,
    BenchConfig,
    Engine,
    ProcessSampler,
    issue_tokens,
    reset,
)
from shared.runtime.launcher import ServiceProcess, start_in_order, stop_all

BASELINE_PORT = 18090
REPLICA_ACKS = "replica_acks"  # the step after the engine's phases and the baseline
FLOOR = "floor"  # the step before the engine starts: bench.floor's bare handler


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
        default=18_000,
        help="streams phase: sale streams held open on the engine's one gateway during a burst",
    )
    p.add_argument(
        "--viewers",
        type=int,
        default=50_000,
        help="viewers phase: sale streams held open over --stream-gateways processes",
    )
    p.add_argument(
        "--stream-gateways",
        type=int,
        default=3,
        help="viewers phase: gateway processes sharing one port (SO_REUSEPORT)",
    )
    p.add_argument(
        "--viewers-attempts",
        type=int,
        default=10_000,
        help="viewers phase: the burst the streams watch",
    )
    p.add_argument(
        "--small-streams",
        action="store_true",
        help="2,000 streams and 6,000 viewers instead of 18,000 and 50,000 (a quicker run;"
        " the stream rows of the targets then read missed)",
    )
    names = ",".join([FLOOR, *(p.name for p in PHASES), REPLICA_ACKS])
    p.add_argument(
        "--phases",
        default=names,
        help=f"comma-separated subset of {names} ({FLOOR}: bench.floor's bare handler, for"
        f" the targets' ratios; {REPLICA_ACKS}: one sale's decider on a private"
        " Redis primary + replica, REDIS_MIN_REPLICA_ACKS=0 against =1, bench/replicas.py)",
    )
    p.add_argument("--label", default="", help="a note stored with the results")
    p.add_argument(
        "--code",
        type=Path,
        default=None,
        help="run the services from this checkout (e.g. a git worktree of an older commit)",
    )
    args = p.parse_args(argv)
    if args.small_streams:
        args.streams, args.viewers = 2_000, 6_000
    return args


async def engine_phases(
    args: argparse.Namespace, config: BenchConfig
) -> tuple[list[PhaseFigures], dict[str, Load]]:
    """The phases asked for (and those they need), in the table's order, on a fresh engine."""
    wanted = set(args.phases.split(","))
    wanted |= {p.needs for p in PHASES if p.name in wanted and p.needs}
    engine = Engine(config)
    await engine.start()
    redis_client = aioredis.Redis.from_url(config.redis_url, decode_responses=True, protocol=2)
    figures: list[PhaseFigures] = []
    try:
        async with aiohttp.ClientSession() as session:
            run = await seeded(args, config, engine, session, redis_client)
            for phase in PHASES:
                if phase.name in wanted:
                    load = await phase.runs(run)
                    figures.append(await phase.checks(run, load))
                    run.loads[phase.name] = load
    finally:
        await redis_client.aclose()
        engine.stop()
    return figures, run.loads


async def seeded(
    args: argparse.Namespace,
    config: BenchConfig,
    engine: Engine,
    session: aiohttp.ClientSession,
    redis_client: aioredis.Redis,
) -> Run:
    """Users and tokens seeded, and the engine warmed up on a sale of its own."""
    print(f"seeding {args.users:,} users and tokens …", file=sys.stderr, flush=True)
    tokens = [u["access_token"] for u in issue_tokens(config, args.users, prefix="bench")]
    admin = issue_tokens(config, 1, prefix="benchadmin", role="admin")[0]["access_token"]
    run = Run(args, config, engine, session, redis_client, admin, tokens)
    warm = await run.sale(stock=2_000, limit=10)
    await run.burst(run.purchases(warm, 2_000), "warm-up", concurrency=64)
    if args.warm_tokens:
        # An authenticated request that touches nothing else: a ticket that is not.
        probe = "/api/v1/tickets/00000000-0000-0000-0000-000000000000"
        verify = [encode_request("GET", probe, host=HOST, token=t) for t in tokens]
        await run.burst(verify, "verifying tokens", concurrency=64)
    return run


async def baseline_phase(
    args: argparse.Namespace, config: BenchConfig
) -> tuple[PhaseFigures, list[Attempt]]:
    """The same burst against the conventional design, with the engine stopped."""
    auth = ServiceProcess(
        "auth_service", config.env(), RESULTS / "baseline-auth.log", PORTS["auth_service"]
    )
    # Started once auth is ready: the conventional app reads the signing keys from it.
    baseline = ServiceProcess(
        "bench.baseline",
        {**config.env(), "AUTH_URL": auth.url},
        RESULTS / "baseline.log",
        BASELINE_PORT,
    )
    try:
        for process in (auth, baseline):
            process.log_path.unlink(missing_ok=True)
        await start_in_order([auth, baseline], within=60)
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
        assert baseline.process is not None
        with ProcessSampler({"baseline": baseline.process.pid}) as rss:
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
        stop_all([auth, baseline])


async def main(args: argparse.Namespace) -> int:
    config = BenchConfig.from_env()
    config.partitions = args.partitions
    config.uvloop = args.event_loop == "uvloop"
    config.log_level = args.log_level
    if args.code is not None:
        config.code_root = args.code.resolve()
    print("resetting the bench namespace and database …", file=sys.stderr, flush=True)
    await reset(config)
    wanted = set(args.phases.split(","))
    floor_figures: Floor | None = None
    if FLOOR in wanted:
        print("the floor: a bare aiohttp handler …", file=sys.stderr, flush=True)
        floor_figures = await floor.measure()
    engine = wanted & {p.name for p in PHASES}
    phases, loads = await engine_phases(args, config) if engine else ([], {})
    baseline_attempts: list[Attempt] = []
    ratio = math.nan
    if not args.skip_baseline:
        figures, baseline_attempts = await baseline_phase(args, config)
        phases.append(figures)
        engine_burst = next((p for p in phases if p.name.startswith("burst")), None)
        if engine_burst is not None:
            ratio = engine_burst.outcomes_per_s / figures.outcomes_per_s
    replica_acks = ""
    if REPLICA_ACKS in wanted:
        print("REDIS_MIN_REPLICA_ACKS on a private replicated pair …", file=sys.stderr, flush=True)
        latency, acks = await replicas.measure(config)
        replica_acks = replicas.table(latency, acks)
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
    goals = targets.issue_13(phases, floor_figures, ratio)
    if phases:
        print(table(phases, ratio=ratio, header=header) + "\n")
    if floor_figures is not None:
        print("floor (this run): " + floor_figures.lines().replace("\n", "; ") + "\n")
        meta["floor"] = dataclasses.asdict(floor_figures)
    if phases or floor_figures is not None:
        print(targets.table(goals) + "\n")
    meta["targets"] = [t.as_json() for t in goals]
    if replica_acks:
        print(replica_acks)
        meta["replica_acks"] = {
            "wait_latency_us": latency,
            "shapes": [result.as_json() for result in acks],
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / f"bench-{stamp}.json", meta, phases, ratio)
    charted = "burst" in loads and "rate" in loads
    if charted:
        chart(
            RESULTS / f"bench-{stamp}.png",
            burst=loads["burst"].attempts,
            burst_finals=loads["burst"].finals,
            rate=loads["rate"].attempts,
            rate_finals=loads["rate"].finals,
            baseline=baseline_attempts,
        )
    # The chart's panels are the burst and the rate phase: without both there is none.
    print(f"\nresults: bench/results/bench-{stamp}.json" + (" (and .png)" if charted else ""))
    broken = [v for p in phases for v in (p.invariants or [])]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(parse_args())))
