"""Issue 13's target table: ratios of one run, met or missed."""

from __future__ import annotations

import math

from bench.floor import Floor
from bench.measure import PhaseFigures
from bench.targets import issue_13, table


def _phase(name: str, **figures: object) -> PhaseFigures:
    base: dict[str, object] = {
        "attempts": 1000,
        "seconds": 1.0,
        "statuses": {},
        "codes": {},
        "answered_per_s": 0.0,
        "accepted_per_s": 0.0,
    }
    return PhaseFigures(name=name, **(base | figures))  # type: ignore[arg-type]


def _streams(count: int, *, failed: int = 0, p99: float = 0.5) -> dict[str, object]:
    return {
        "streams": count,
        "opened": count - failed,
        "failed": failed,
        "with_final_value": count - failed,
        "fanout_p99_s": p99,
    }


def test_every_row_from_one_run() -> None:
    floor = Floor(get_per_s=10_000, get_cpu_us=50, post_per_s=10_000, post_cpu_us=100, failed=0)
    phases = [
        _phase(
            "burst N=1 C=1",
            accepted_per_s=4_000,
            outcomes_per_s=4_500,
            cpu_us_per_attempt={"gateway": 250.0},
        ),
        _phase("polls (each ticket once)", answered_per_s=9_000),
        _phase(
            "streams: burst",
            accepted_per_s=2_000,
            rss_mb={"gateway": 400.0},
            streams=_streams(18_000),
        ),
        _phase("viewers: burst", streams=_streams(50_000, failed=3, p99=1.5)),
        _phase("sold_out (409 answers)", answered_per_s=8_000),
    ]
    by_figure = {t.figure: t for t in issue_13(phases, floor, 7.0)}
    assert len(by_figure) == 10
    cpu = by_figure["gateway CPU per purchase / floor CPU per POST"]
    assert (cpu.value, cpu.met) == (2.5, False)
    assert by_figure["burst outcomes/s / floor POST req/s"].met is True
    assert by_figure["ticket polls/s / floor GET req/s"].value == 0.9
    assert by_figure["sold-out answers/s / floor POST req/s"].met is True
    assert by_figure["outcomes/s / conventional design"].met is True
    one = by_figure["streams held by one gateway process during the burst, 0 failed"]
    assert (one.value, one.met) == (18_000, True)
    many = by_figure["streams on one machine, gateway processes sharing one port, 0 failed"]
    assert (many.value, many.met) == (0, False)  # three failed: not held
    assert by_figure["burst accepted/s with the streams open / without"].value == 0.5
    lag = by_figure["last change of remaining -> seen by every stream, p99"]
    assert (lag.value, lag.met) == (1.5, False)  # the worse of the two phases
    assert by_figure["RSS per gateway process at 18,000 streams"].met is True
    printed = table(list(by_figure.values()))
    assert printed.count("missed") == 4


def test_a_figure_not_measured_reads_so() -> None:
    rows = issue_13([], None, math.nan)
    assert all(t.met is None for t in rows)
    assert "not measured" in table(rows)
