"""`python -m bench.summary FILE...`: medians over several bench runs, as a Markdown table."""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any


def _phase_key(name: str) -> str:
    return name.split(" ")[0].rstrip(":")


def medians(paths: list[Path]) -> tuple[dict[str, dict[str, float]], list[float], int]:
    by_phase: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ratios: list[float] = []
    for path in paths:
        run: dict[str, Any] = json.loads(path.read_text())
        if run.get("ratio") == run.get("ratio"):  # not NaN
            ratios.append(float(run["ratio"]))
        for phase in run["phases"]:
            figures = by_phase[_phase_key(phase["name"])]
            for field in ("answered_per_s", "accepted_per_s", "outcomes_per_s"):
                figures[field].append(phase[field])
            for p, value in phase["to_answer_ms"].items():
                figures[f"answer_{p}"].append(value)
            for p, value in phase["to_final_ms"].items():
                figures[f"final_{p}"].append(value)
            for service, value in phase["cpu_us_per_attempt"].items():
                if value:
                    figures[f"cpu_{service}"].append(value)
            for service, value in phase["rss_mb"].items():
                figures[f"rss_{service}"].append(value)
            figures["server_errors"].append(phase["server_errors"])
            figures["violations"].append(len(phase.get("invariants") or []))
    return (
        {k: {f: statistics.median(v) for f, v in fs.items()} for k, fs in by_phase.items()},
        ratios,
        len(paths),
    )


def target_medians(paths: list[Path]) -> list[tuple[str, float, str, list[float]]]:
    """Issue 13's targets: (figure, median, "op target unit", each run's value) per row."""
    rows: dict[str, tuple[str, list[float]]] = {}
    for path in paths:
        for t in json.loads(path.read_text()).get("targets", []):
            goal = f"{t['op']} {t['target']:g}{(' ' + t['unit']) if t['unit'] else ''}"
            rows.setdefault(t["figure"], (goal, []))[1].append(float(t["value"]))
    return [
        (figure, statistics.median(values), goal, values) for figure, (goal, values) in rows.items()
    ]


def targets_markdown(paths: list[Path]) -> list[str]:
    rows = target_medians(paths)
    if not rows:
        return []
    lines = ["", "| figure | median | runs | target | |", "|---|---:|---|---|---|"]
    for figure, median, goal, values in rows:
        op, target = goal.split(" ")[:2]
        met = median >= float(target) if op == ">=" else median <= float(target)
        runs = ", ".join(f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}" for v in values)
        shown = f"{median:,.2f}" if abs(median) < 100 else f"{median:,.0f}"
        lines.append(f"| {figure} | {shown} | {runs} | {goal} | {'met' if met else 'missed'} |")
    return lines


def markdown(paths: list[Path]) -> str:
    table, ratios, runs = medians(paths)
    columns = [
        ("answers/s", "answered_per_s"),
        ("accepted/s", "accepted_per_s"),
        ("outcomes/s", "outcomes_per_s"),
        ("answer p50/p99 ms", "answer"),
        ("final p50/p99 ms", "final"),
        ("gateway CPU us", "cpu_gateway"),
        ("5xx", "server_errors"),
        ("violations", "violations"),
    ]
    lines = [
        f"Medians of {runs} runs ({', '.join(p.name for p in paths)}).",
        "",
        "| phase | " + " | ".join(c for c, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for phase, figures in table.items():
        cells = []
        for _, field in columns:
            if field in ("answer", "final"):
                p50, p99 = figures.get(f"{field}_p50"), figures.get(f"{field}_p99")
                cells.append("-" if p50 is None or p50 != p50 else f"{p50:.0f} / {p99:.0f}")
            else:
                value = figures.get(field)
                cells.append("-" if value is None or value != value else f"{value:,.0f}")
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    if ratios:
        lines += [
            "",
            f"Ratio of end-to-end outcomes/s to the conventional design: median "
            f"{statistics.median(ratios):.1f}x (runs: {', '.join(f'{r:.1f}' for r in ratios)}).",
        ]
    cpu = {k: v for k, v in table.get("burst", {}).items() if k.startswith(("cpu_", "rss_"))}
    if cpu:
        lines += [
            "",
            "Burst phase, per service: "
            + ", ".join(
                f"{k.removeprefix('cpu_')} {v:.0f} us CPU/attempt"
                for k, v in cpu.items()
                if k.startswith("cpu_")
            )
            + "; peak RSS "
            + ", ".join(
                f"{k.removeprefix('rss_')} {v:.0f} MB"
                for k, v in cpu.items()
                if k.startswith("rss_")
            )
            + ".",
        ]
    return "\n".join(lines + targets_markdown(paths))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.summary", description="Medians of several bench runs, as Markdown."
    )
    parser.add_argument("results", nargs="+", type=Path, help="bench/results/bench-*.json files")
    print(markdown(parser.parse_args().results))
