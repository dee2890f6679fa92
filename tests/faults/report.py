"""The fault table of docs/RELIABILITY.md, built from the figures the scenarios wrote.

    .venv/bin/python -m tests.faults.report    # after .venv/bin/pytest tests/faults

Each scenario writes tests/artifacts/<test>/figures.json; this prints one Markdown row per
file, in the order of the scenarios in tests/faults: the crowd scenarios in one table, the
payment scenarios (figures with ``orders`` by final state) in another.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.processes import ARTIFACTS

ORDER = (
    "test_inventory_killed",
    "test_standby_inventory",
    "test_order_service_killed",
    "test_gateway_killed",
    "test_rabbitmq_restarted_mid_crowd[stop]",
    "test_rabbitmq_restarted_mid_crowd[kill]",
    "test_redis_killed",
    "test_postgres_restarted_mid_crowd[fast]",
    "test_postgres_restarted_mid_crowd[immediate]",
    "test_poison_messages",
)
COLUMNS = (
    "scenario",
    "what was done, and when",
    "attempts",
    "202",
    "409",
    "503",
    "conn. errors",
    "confirmed",
    "rejected",
    "orders",
    "stock",
    "remaining",
    "recovery",
    "result",
)


def _rank(path: Path) -> int:
    name = path.parent.name
    return next((i for i, prefix in enumerate(ORDER) if name.startswith(prefix)), len(ORDER))


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def _recovery(figures: dict[str, Any]) -> str:
    recovery = figures.get("recovery") or {}
    parts = []
    if recovery.get("first_answer_after_back_s") is not None:
        parts.append(f"first answer {recovery['first_answer_after_back_s']} s")
    if recovery.get("backlog_final_s") is not None:
        parts.append(f"backlog final {recovery['backlog_final_s']} s")
    return ", ".join(parts) or "–"


def row(figures: dict[str, Any]) -> list[str]:
    return [
        figures["scenario"],
        figures["fault"],
        *(
            _cell(figures.get(k))
            for k in (
                "attempts",
                "http_202",
                "http_409",
                "http_503",
                "connection_errors",
                "confirmed",
                "rejected",
                "orders",
                "stock",
                "remaining",
            )
        ),
        _recovery(figures),
        {"passed": "pass", "xfailed": "FAIL (known bug, xfail)"}.get(
            figures["outcome"], figures["outcome"].upper()
        ),
    ]


def table(paths: list[Path]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for path in sorted(paths, key=_rank):
        cells = row(json.loads(path.read_text()))
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


PAYMENT_COLUMNS = ("scenario", "what was done, and when", "payment answers", "orders", "result")


def _is_payments(figures: dict[str, Any]) -> bool:
    return isinstance(figures.get("orders"), dict)


def payments_table(paths: list[Path]) -> str:
    lines = ["| " + " | ".join(PAYMENT_COLUMNS) + " |", "|" + "---|" * len(PAYMENT_COLUMNS)]
    for path in paths:
        figures = json.loads(path.read_text())
        answers = figures.get("payment_answers")
        cells = [
            figures["scenario"],
            figures["fault"],
            "–" if answers is None else ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())),
            ", ".join(f"{k} {v}" for k, v in sorted(figures["orders"].items())),
            row(figures)[-1],
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    paths = sorted(ARTIFACTS.glob("*/figures.json"))
    if not paths:
        sys.exit(f"no figures under {ARTIFACTS}: run .venv/bin/pytest tests/faults first")
    finished = sorted(json.loads(p.read_text())["finished_at"] for p in paths)
    payments = [p for p in paths if _is_payments(json.loads(p.read_text()))]
    print(table([p for p in paths if p not in payments]))
    if payments:
        print("\nPayments: every order ends in exactly one final state.\n")
        print(payments_table(payments))
    print(f"\nFrom {len(paths)} scenarios run between {finished[0]} and {finished[-1]}.")


if __name__ == "__main__":
    main()
