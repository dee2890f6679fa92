"""Figures from a phase: rates, latency percentiles, and the time each ticket became final."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from bench.crowd import Attempt


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class PhaseFigures:
    name: str
    attempts: int
    seconds: float
    statuses: dict[str, int]
    codes: dict[str, int]
    answered_per_s: float
    accepted_per_s: float
    outcomes: int = 0
    outcomes_per_s: float = math.nan
    to_answer_ms: dict[str, float] = field(default_factory=dict)
    to_final_ms: dict[str, float] = field(default_factory=dict)
    server_errors: int = 0
    rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_us_per_attempt: dict[str, float] = field(default_factory=dict)
    invariants: list[str] | None = None
    streams: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def answer_figures(name: str, attempts: Sequence[Attempt], *, accepted_status: int) -> PhaseFigures:
    start = min(a.started for a in attempts)
    end = max(a.answered for a in attempts)
    seconds = max(end - start, 1e-9)
    accepted = sum(1 for a in attempts if a.status == accepted_status)
    latencies = [(a.answered - a.started) * 1000 for a in attempts if a.status]
    return PhaseFigures(
        name=name,
        attempts=len(attempts),
        seconds=seconds,
        statuses={str(k): v for k, v in sorted(Counter(a.status for a in attempts).items())},
        codes=dict(Counter(a.code for a in attempts if a.code and a.status >= 400)),
        answered_per_s=sum(1 for a in attempts if a.status) / seconds,
        accepted_per_s=accepted / seconds,
        to_answer_ms={
            p: percentile(latencies, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))
        },
        server_errors=sum(1 for a in attempts if a.status >= 500),
    )


async def final_times(database_url: str, sale_id: str) -> dict[str, float]:
    """ticket id -> wall-clock second its outcome was committed in Postgres."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT ticket_id::text AS id, extract(epoch FROM persisted_at) AS at"
            " FROM tickets WHERE sale_id = $1::uuid",
            sale_id,
        )
    finally:
        await conn.close()
    return {r["id"]: float(r["at"]) for r in rows}


def add_outcome_figures(
    figures: PhaseFigures, attempts: Sequence[Attempt], finals: dict[str, float]
) -> None:
    """End to end: outcomes persisted per second over the whole phase, and 202 -> final."""
    ticketed = [a for a in attempts if a.status == 202 and a.ticket_id]
    done = [finals[a.ticket_id] for a in ticketed if a.ticket_id in finals]
    figures.outcomes = len(done)
    if done:
        start = min(a.started for a in attempts)
        figures.outcomes_per_s = len(done) / max(max(done) - start, 1e-9)
    to_final = [
        (finals[a.ticket_id] - a.answered) * 1000 for a in ticketed if a.ticket_id in finals
    ]
    figures.to_final_ms = {
        p: percentile(to_final, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))
    }


def add_process_figures(figures: PhaseFigures, sampler: Any) -> None:
    """Peak RSS (MB) and CPU microseconds per attempt of each process of the phase."""
    figures.rss_mb = {k: v / 2**20 for k, v in sampler.peak.items()}
    figures.cpu_us_per_attempt = {
        k: v * 1e6 / max(figures.attempts, 1) for k, v in sampler.cpu_seconds.items()
    }
