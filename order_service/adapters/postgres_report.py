"""Postgres adapter: what happened in a sale, second by second (the sale report)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

# A row per second that had events, counted from the sale's start: attempts (tickets, by when
# they were asked for), their outcomes by decision time, payments and expiries by their time.
_TIMELINE = """
WITH sale AS (SELECT starts_at FROM sale_catalog WHERE sale_id = $1),
events AS (
    SELECT coalesce(requested_at, decided_at) AS at, 'attempt' AS kind FROM tickets
        WHERE sale_id = $1
    UNION ALL SELECT decided_at, CASE WHEN status = 'confirmed' THEN 'accepted'
                                      ELSE 'rejected_' || reason END
        FROM tickets WHERE sale_id = $1
    UNION ALL SELECT paid_at, 'paid' FROM orders WHERE sale_id = $1 AND paid_at IS NOT NULL
    UNION ALL SELECT expired_at, 'expired' FROM orders
        WHERE sale_id = $1 AND expired_at IS NOT NULL
)
SELECT floor(extract(epoch FROM e.at - sale.starts_at))::integer AS second, e.kind,
       count(*)::integer AS n
FROM events e, sale GROUP BY 1, 2 ORDER BY 1, 2
"""
_SUMMARY = """
SELECT s.name, s.stock, s.starts_at, s.ends_at, s.currency,
    (SELECT count(*) FROM orders WHERE sale_id = $1)::integer AS orders,
    (SELECT count(*) FROM orders WHERE sale_id = $1 AND status = 'paid')::integer AS paid,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY decided_at - requested_at)
        FROM tickets WHERE sale_id = $1 AND requested_at IS NOT NULL) AS latency_p50,
    (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY decided_at - requested_at)
        FROM tickets WHERE sale_id = $1 AND requested_at IS NOT NULL) AS latency_p99,
    (SELECT decided_at FROM tickets WHERE sale_id = $1 AND status = 'confirmed'
        ORDER BY decided_at OFFSET s.stock - 1 LIMIT 1) AS last_unit_at
FROM sale_catalog s WHERE s.sale_id = $1
"""

KINDS = (
    "attempt",
    "accepted",
    "rejected_sold_out",
    "rejected_limit_reached",
    "rejected_sale_not_active",
    "paid",
    "expired",
)


class PostgresSaleReport:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def report(self, sale_id: UUID) -> dict[str, Any] | None:
        """The report object of the API; None for an unknown sale."""
        async with self._pool.acquire() as conn:
            summary = await conn.fetchrow(_SUMMARY, sale_id)
            if summary is None:
                return None
            rows = await conn.fetch(_TIMELINE, sale_id)
        seconds: dict[int, dict[str, int]] = {}
        for row in rows:
            bucket = seconds.setdefault(max(0, row["second"]), dict.fromkeys(KINDS, 0))
            if row["kind"] in bucket:
                bucket[row["kind"]] += row["n"]
        timeline = [
            {"second": second, **{_plural(k): v for k, v in counts.items()}}
            for second, counts in sorted(seconds.items())
        ]
        last_unit = summary["last_unit_at"]
        return {
            "sale_id": str(sale_id),
            "name": summary["name"],
            "stock": summary["stock"],
            "starts_at": summary["starts_at"].isoformat(),
            "ends_at": summary["ends_at"].isoformat(),
            # From the start to the decision that took the stock-th unit (null: not that many
            # yet; the stock includes top-ups).
            "time_to_sell_out_seconds": (
                None
                if last_unit is None
                else round((last_unit - summary["starts_at"]).total_seconds(), 3)
            ),
            "orders": summary["orders"],
            "paid": summary["paid"],
            # Paid orders per order won (an accepted ticket always becomes an order).
            "conversion": (
                round(summary["paid"] / summary["orders"], 4) if summary["orders"] else None
            ),
            "decision_latency_ms": {
                "p50": _ms(summary["latency_p50"]),
                "p99": _ms(summary["latency_p99"]),
            },
            "timeline": timeline,
        }


def _plural(kind: str) -> str:
    return "attempts" if kind == "attempt" else kind


def _ms(interval: Any) -> float | None:
    return None if interval is None else round(interval.total_seconds() * 1000, 1)


TIMELINE_COLUMNS = ["second", *(_plural(k) for k in KINDS)]
