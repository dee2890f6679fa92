"""The bench's output: a table on stdout, a JSON file and a PNG chart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.crowd import Attempt
from bench.measure import PhaseFigures, percentile

TARGETS = [
    ("accepted (202) /s, one gateway", "burst", "accepted_per_s", ">=", 10_000),
    ("outcomes /s end to end, one sale", "burst", "outcomes_per_s", ">=", 6_000),
    ("202 -> final p99 ms at 3,000/s", "rate", "to_final_p99", "<=", 250),
    ("sold-out answers /s", "sold_out", "answered_per_s", ">=", 15_000),
    ("ticket polls /s", "polls", "answered_per_s", ">=", 15_000),
]


def _fmt(value: float, digits: int = 0) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:,.{digits}f}"
    )


def _triple(values: dict[str, float]) -> str:
    if not values:
        return "-"
    return "/".join(_fmt(values[p], 1) for p in ("p50", "p95", "p99"))


def table(phases: Sequence[PhaseFigures], *, ratio: float, header: str) -> str:
    rows = [
        (
            "phase",
            "attempts",
            "s",
            "answers/s",
            "accepted/s",
            "outcomes/s",
            "answer ms p50/95/99",
            "final ms p50/95/99",
            "5xx",
            "invariants",
        ),
    ]
    for p in phases:
        invariants = "-" if p.invariants is None else ("ok" if not p.invariants else "VIOLATED")
        rows.append(
            (
                p.name,
                _fmt(p.attempts),
                _fmt(p.seconds, 1),
                _fmt(p.answered_per_s),
                _fmt(p.accepted_per_s),
                _fmt(p.outcomes_per_s),
                _triple(p.to_answer_ms),
                _triple(p.to_final_ms),
                str(p.server_errors),
                invariants,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [header, ""]
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    for p in phases:
        if p.codes:
            lines.append(f"{p.name}: error codes {dict(sorted(p.codes.items()))}")
        for violation in p.invariants or []:
            lines.append(f"{p.name}: INVARIANT VIOLATED: {violation}")
        if p.rss_mb:
            lines.append(
                f"{p.name}: peak RSS MB " + ", ".join(f"{k} {v:.0f}" for k, v in p.rss_mb.items())
            )
        if p.streams:
            lines.append(
                f"{p.name}: streams "
                + ", ".join(
                    f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in p.streams.items()
                )
            )
        if p.cpu_us_per_attempt:
            lines.append(
                f"{p.name}: CPU us per attempt "
                + ", ".join(f"{k} {v:.0f}" for k, v in p.cpu_us_per_attempt.items())
            )
    lines.append("")
    lines.append(f"end-to-end outcomes/s, engine / conventional design: {ratio:.1f}x")
    lines.append("")
    by_name = {p.name.split(" ")[0]: p for p in phases}
    for label, phase, attr, op, target in [
        *TARGETS,
        ("ratio to conventional", "", "ratio", ">=", 10),
    ]:
        if attr == "ratio":
            value = ratio
        elif phase not in by_name:
            continue
        elif attr == "to_final_p99":
            value = by_name[phase].to_final_ms.get("p99", math.nan)
        else:
            value = getattr(by_name[phase], attr)
        met = value >= target if op == ">=" else value <= target
        lines.append(
            f"  [{'met' if met else 'MISSED'}] {label}: {_fmt(value, 1)} (target {op} {target:,})"
        )
    return "\n".join(lines)


def write_json(
    path: Path, meta: dict[str, Any], phases: Sequence[PhaseFigures], ratio: float
) -> None:
    path.write_text(
        json.dumps({**meta, "ratio": ratio, "phases": [p.as_json() for p in phases]}, indent=2)
    )


def _series(times: Sequence[float], start: float, step: float) -> tuple[list[float], list[float]]:
    if not times:
        return [], []
    bins = int((max(times) - start) / step) + 1
    counts = [0] * bins
    for t in times:
        counts[int((t - start) / step)] += 1
    return [i * step for i in range(bins)], [c / step for c in counts]


def chart(
    path: Path,
    *,
    burst: Sequence[Attempt],
    burst_finals: dict[str, float],
    rate: Sequence[Attempt],
    rate_finals: dict[str, float],
    baseline: Sequence[Attempt],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 11))
    start = min(a.started for a in burst)
    x, y = _series([a.answered for a in burst if a.status == 202], start, 0.1)
    top.plot(x, y, label="202 accepted /s")
    finals = [burst_finals[a.ticket_id] for a in burst if a.ticket_id in burst_finals]
    x, y = _series(finals, start, 0.1)
    top.plot(x, y, label="outcomes persisted /s")
    if baseline:
        b_start = min(a.started for a in baseline)
        x, y = _series([a.answered for a in baseline if a.status], b_start, 0.1)
        top.plot(x, y, label="conventional design: outcomes /s")
    top.set_title("Burst: throughput over time (100 ms bins)")
    top.set_xlabel("seconds since the first request")
    top.legend()

    r_start = min(a.started for a in rate) if rate else 0
    for label, values in (
        (
            "due -> 202",
            [(a.started, (a.answered - a.started) * 1000) for a in rate if a.status == 202],
        ),
        (
            "202 -> final",
            [
                (a.answered, (rate_finals[a.ticket_id] - a.answered) * 1000)
                for a in rate
                if a.ticket_id in rate_finals
            ],
        ),
    ):
        seconds: dict[int, list[float]] = {}
        for t, ms in values:
            seconds.setdefault(int(t - r_start), []).append(ms)
        xs = sorted(seconds)
        for p in (50, 99):
            middle.plot(xs, [percentile(seconds[s], p) for s in xs], label=f"{label} p{p}")
    middle.set_title("Rate phase: latency percentiles per second (ms)")
    middle.set_xlabel("second of the phase")
    middle.legend()

    x, y = _series([a.answered for a in rate if a.status == 202], r_start, 0.25)
    bottom.plot(x, y, label="202 /s")
    x, y = _series(
        [rate_finals[a.ticket_id] for a in rate if a.ticket_id in rate_finals], r_start, 0.25
    )
    bottom.plot(x, y, label="final /s")
    bottom.set_title("Rate phase: throughput (250 ms bins)")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
