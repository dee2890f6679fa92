"""Issue 13's targets, from one run of `python -m bench`: ratios to the floor measured in that
run (absolute rates vary several-fold between days on these machines), stream counts, and
what the viewers cost. Each row: the figure, today's value, the target, met or missed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.floor import Floor
from bench.measure import PhaseFigures

ONE_GATEWAY_STREAMS = 18_000
MACHINE_STREAMS = 50_000


@dataclass
class Target:
    figure: str
    value: float  # NaN: not measured in this run
    op: str  # ">=" or "<="
    target: float
    unit: str = ""  # "x", "s", "MB", "streams"
    note: str = ""

    @property
    def met(self) -> bool | None:
        if math.isnan(self.value):
            return None
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def _phase(phases: Sequence[PhaseFigures], key: str) -> PhaseFigures | None:
    return next((p for p in phases if p.name.split(" ")[0].rstrip(":") == key), None)


def _ratio(top: float | None, bottom: float | None) -> float:
    if top is None or bottom is None or not bottom or math.isnan(top) or math.isnan(bottom):
        return math.nan
    return top / bottom


def _streams_held(phase: PhaseFigures | None) -> tuple[float, str]:
    """Streams that stayed open and ended on the final value; 0 if any failed, so the row
    cannot read as met."""
    if phase is None or not phase.streams:
        return math.nan, ""
    seen: dict[str, Any] = phase.streams
    held = float(seen["with_final_value"]) if not seen["failed"] else 0.0
    note = f"{seen['opened']:,} opened, {seen['failed']} failed, {seen['with_final_value']:,} final"
    return held, note


def issue_13(
    phases: Sequence[PhaseFigures], floor: Floor | None, conventional_ratio: float
) -> list[Target]:
    burst = _phase(phases, "burst")
    sold_out = _phase(phases, "sold_out")
    polls = _phase(phases, "polls")
    streams = _phase(phases, "streams")
    viewers = _phase(phases, "viewers")
    gateway_cpu = burst.cpu_us_per_attempt.get("gateway") if burst else None
    one, one_note = _streams_held(streams)
    many, many_note = _streams_held(viewers)
    lags = [
        float(str(p.streams["fanout_p99_s"]))
        for p in (streams, viewers)
        if p is not None and p.streams
    ]
    rss = streams.rss_mb.get("gateway") if streams is not None else None
    return [
        Target(
            "gateway CPU per purchase / floor CPU per POST",
            _ratio(gateway_cpu, floor.post_cpu_us if floor else None),
            "<=",
            2.0,
            "x",
        ),
        Target(
            "burst outcomes/s / floor POST req/s",
            _ratio(burst.outcomes_per_s if burst else None, floor.post_per_s if floor else None),
            ">=",
            0.40,
        ),
        Target(
            "sold-out answers/s / floor POST req/s",
            _ratio(
                sold_out.answered_per_s if sold_out else None, floor.post_per_s if floor else None
            ),
            ">=",
            0.80,
        ),
        Target(
            "ticket polls/s / floor GET req/s",
            _ratio(polls.answered_per_s if polls else None, floor.get_per_s if floor else None),
            ">=",
            0.85,
        ),
        Target("outcomes/s / conventional design", conventional_ratio, ">=", 6.0, "x"),
        Target(
            "streams held by one gateway process during the burst, 0 failed",
            one,
            ">=",
            ONE_GATEWAY_STREAMS,
            "streams",
            one_note,
        ),
        Target(
            "streams on one machine, gateway processes sharing one port, 0 failed",
            many,
            ">=",
            MACHINE_STREAMS,
            "streams",
            many_note,
        ),
        Target(
            "burst accepted/s with the streams open / without",
            _ratio(
                streams.accepted_per_s if streams else None, burst.accepted_per_s if burst else None
            ),
            ">=",
            0.75,
        ),
        Target(
            "last change of remaining -> seen by every stream, p99",
            max(lags) if lags else math.nan,
            "<=",
            1.0,
            "s",
            ", ".join(f"{v:.2f} s" for v in lags) + " (one gateway, shared port)" if lags else "",
        ),
        Target(
            f"RSS per gateway process at {ONE_GATEWAY_STREAMS:,} streams",
            rss if rss is not None and streams is not None else math.nan,
            "<=",
            600,
            "MB",
            f"at {streams.streams.get('opened', 0):,} streams"
            if streams and streams.streams
            else "",
        ),
    ]


def _shown(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "streams" or unit == "MB":
        return f"{value:,.0f}" + (" MB" if unit == "MB" else "")
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.2f}" + unit


def table(targets: Sequence[Target]) -> str:
    """The issue's table, as printed by `python -m bench`."""
    rows = [("figure", "this run", "target", "")]
    for t in targets:
        met = {True: "met", False: "missed", None: "not measured"}[t.met]
        target = f"{t.op} {_shown(t.target, t.unit)}"
        rows.append((t.figure, _shown(t.value, t.unit), target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["Issue 13 targets (ratios from this run)", ""]
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if j in (0, 3) else c.rjust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {t.figure}: {t.note}" for t in targets if t.note]
    return "\n".join(lines + (["", *notes] if notes else []))
