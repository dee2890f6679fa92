"""`python -m bench.replicas` (a step of `make bench`): what REDIS_MIN_REPLICA_ACKS costs.

With it, the decider sends WAIT after every decision script call and publishes nothing until
a replica holds the batch (docs/RELIABILITY.md, "Redis failover"). The shared Redis has no
replica and is not ours to change, so this starts a private primary and its replica (AOF,
fsync always, as deploy/redis.conf) and times one sale's decider alone (bench.decider) on
them with REDIS_MIN_REPLICA_ACKS=0 and =1, alternately, on the same pair in the same run:
only the ratio of the two means anything on a machine whose speed varies from day to day.

Two shapes of load: a crowd (intent messages of 100 purchases, 64 in flight: a script call
decides thousands, and one WAIT serves them all) and a trickle (messages of 5, one in flight:
one WAIT per 5 decisions, the worst case).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import redis.asyncio as aioredis

from bench.decider import DeciderFigures, decide_alone
from bench.system import RESULTS, BenchConfig
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import NewSale
from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms
from tests.support.private_servers import private_redis_pair


@dataclass(frozen=True)
class Shape:
    name: str
    purchases: int
    batch: int  # purchases per intent message
    prefetch: int  # INTENT_PREFETCH: messages per decision script call, at most


SHAPES = (
    Shape("crowd", 40_000, 100, 64),
    Shape("trickle", 3_000, 5, 1),
)


@dataclass
class ShapeResult:
    shape: Shape
    runs: dict[int, list[DeciderFigures]]  # by REDIS_MIN_REPLICA_ACKS
    waits: dict[int, list[int]]  # WAIT calls the primary served in each run

    def per_s(self, acks: int) -> float:
        return statistics.median(f.per_s for f in self.runs[acks])

    def cpu_us(self, acks: int, process: str) -> float:
        return statistics.median(f.cpu_us[process] for f in self.runs[acks])

    @property
    def ratio(self) -> float:
        """Decisions/s with the acks over without: 1.0 is free."""
        return self.per_s(1) / self.per_s(0)

    def as_json(self) -> dict[str, Any]:
        return {
            "shape": vars(self.shape),
            "ratio": self.ratio,
            "wait_calls": {str(acks): calls for acks, calls in self.waits.items()},
            "runs": {
                str(acks): [
                    {"decisions": f.decisions, "seconds": f.seconds, "cpu_us": f.cpu_us}
                    for f in figures
                ]
                for acks, figures in self.runs.items()
            },
        }


async def _wait_calls(port: int) -> int:
    """WAIT commands the Redis on ``port`` has served since it started."""
    client = aioredis.Redis(port=port, decode_responses=True)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


async def wait_latency(port: int, samples: int = 1_000) -> dict[str, float]:
    """Median µs of one write alone, and of one write + WAIT 1 (a round trip to the
    replica), alternated on one connection: what WAIT adds to every decision call."""
    client = aioredis.Redis(port=port, decode_responses=True)
    timings: dict[str, list[float]] = {"write": [], "write + WAIT": []}
    try:
        for i in range(samples):
            for name, waits in (("write", False), ("write + WAIT", True)):
                async with client.pipeline(transaction=False) as pipe:
                    pipe.incr("benchreplicas:probe")
                    if waits:
                        pipe.execute_command("WAIT", 1, 1000)
                    started = time.perf_counter()
                    replies = await pipe.execute()
                    timings[name].append((time.perf_counter() - started) * 1e6)
                if waits and replies[-1] != 1:
                    raise RuntimeError(f"WAIT {i}: the replica did not acknowledge")
        await client.delete("benchreplicas:probe")
    finally:
        await client.aclose()
    return {name: statistics.median(values) for name, values in timings.items()}


async def decide_latency(port: int, size: int, samples: int) -> tuple[float, float]:
    """Median µs of one decision call of ``size`` purchases on the store alone, without and
    with REDIS_MIN_REPLICA_ACKS=1, alternated: with it the call returns once the replica has
    applied the whole batch."""
    client = aioredis.Redis(port=port, decode_responses=True, protocol=2)
    now = datetime.now(UTC)
    sale = NewSale(
        name="probe",
        stock=10**9,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )
    timings: dict[int, list[float]] = {0: [], 1: []}
    try:
        stores = {}
        for acks in (0, 1):
            keys = Keys(f"benchreplicas{acks}")
            stores[acks] = (RedisSaleStore(client, keys, min_replica_acks=acks), uuid4())
            await stores[acks][0].create(stores[acks][1], sale)
        for _ in range(samples):
            for acks, (store, sale_id) in stores.items():
                batch = [
                    PlacePurchase(
                        ticket_id=uuid4(),
                        sale_id=sale_id,
                        user_id=uuid4(),
                        requested_at_ms=datetime_to_ms(now),
                    )
                    for _ in range(size)
                ]
                started = time.perf_counter()
                await store.decide(batch)
                timings[acks].append((time.perf_counter() - started) * 1e6)
        probe = [k async for k in client.scan_iter("benchreplicas?:*", count=10_000)]
        for first in range(0, len(probe), 10_000):
            await client.delete(*probe[first : first + 10_000])
    finally:
        await client.aclose()
    return statistics.median(timings[0]), statistics.median(timings[1])


async def call_latencies(port: int) -> dict[str, tuple[float, float]]:
    """What waiting for the replica adds to one call (µs, alone / waiting), by call."""
    write = await wait_latency(port)
    return {
        "one write": (write["write"], write["write + WAIT"]),
        "a decision call of 5": await decide_latency(port, 5, samples=300),
        "a decision call of 2,800": await decide_latency(port, 2_800, samples=15),
    }


async def measure(
    config: BenchConfig, *, rounds: int = 3
) -> tuple[dict[str, tuple[float, float]], list[ShapeResult]]:
    """Each shape ``rounds`` times with acks 0 then 1, on one private replicated pair."""
    async with private_redis_pair(RESULTS / "replica-acks") as (primary, replica):
        assert primary.process is not None
        assert replica.process is not None
        watched = {"redis primary": primary.process.pid, "redis replica": replica.process.pid}
        latency = await call_latencies(primary.port)
        on_pair = replace(config, namespace="benchreplicas", partitions=1, redis_url=primary.url)
        results = []
        for shape in SHAPES:
            runs: dict[int, list[DeciderFigures]] = {0: [], 1: []}
            waits: dict[int, list[int]] = {0: [], 1: []}
            for _ in range(rounds):
                for acks in (0, 1):
                    before = await _wait_calls(primary.port)
                    runs[acks].append(
                        await decide_alone(
                            on_pair,
                            shape.purchases,
                            shape.batch,
                            shape.prefetch,
                            env={"REDIS_MIN_REPLICA_ACKS": str(acks)},
                            watched=watched,
                        )
                    )
                    waits[acks].append(await _wait_calls(primary.port) - before)
                    # Else the two settings measured the same thing.
                    if bool(waits[acks][-1]) != bool(acks):
                        raise RuntimeError(f"acks={acks} but {waits[acks][-1]} WAIT calls")
            results.append(ShapeResult(shape, runs, waits))
        return latency, results


def table(latency: dict[str, tuple[float, float]], results: list[ShapeResult]) -> str:
    """One row per shape and setting, then the ratio of each shape."""
    processes = ("inventory", "redis primary", "redis replica")
    lines = [
        "REDIS_MIN_REPLICA_ACKS: one sale's decider alone, on a private primary + replica",
        "",
        "shape     acks  decisions/s (each run)           CPU µs per decision: "
        + " / ".join(processes),
    ]
    for result in results:
        s = result.shape
        for acks in (0, 1):
            each = ", ".join(f"{f.per_s:,.0f}" for f in result.runs[acks])
            cpu = " / ".join(f"{result.cpu_us(acks, p):.1f}" for p in processes)
            lines.append(f"{s.name:<9} {acks:>4}  {result.per_s(acks):>9,.0f} ({each:<24})  {cpu}")
    lines.append("")
    lines.append("  per call, alone / waiting for the replica (medians, alternated):")
    for name, (alone, waiting) in latency.items():
        lines.append(f"    {name}: {alone:,.0f} / {waiting:,.0f} µs ({waiting - alone:+,.0f} µs)")
    for result in results:
        s = result.shape
        extra = sum(result.cpu_us(1, p) - result.cpu_us(0, p) for p in processes)
        per_wait = sum(f.decisions for f in result.runs[1]) / max(sum(result.waits[1]), 1)
        lines.append(
            f"  {s.name} ({s.batch} per message, prefetch {s.prefetch}): decisions/s with acks"
            f" / without: {result.ratio:.2f}x; CPU per decision {extra:+.1f} µs;"
            f" {per_wait:,.0f} decisions per WAIT"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting, alternated")
    args = parser.parse_args()
    latency, results = asyncio.run(measure(BenchConfig.from_env(), rounds=args.rounds))
    print(table(latency, results))


if __name__ == "__main__":
    main()
