"""settle_success: what a confirmed charge does to its order, the one place paid and expired
race; before pay_by the payment wins, from pay_by on the order expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from order_service.domain import settle_success

PAY_BY = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("status", "pay_by", "now", "outcome"),
    [
        ("awaiting_payment", PAY_BY, PAY_BY - timedelta(minutes=5), "paid"),
        ("awaiting_payment", PAY_BY, PAY_BY - TICK, "paid"),
        ("awaiting_payment", PAY_BY, PAY_BY, "expire_and_refund"),  # the deadline is the sweep's
        ("awaiting_payment", PAY_BY, PAY_BY + TICK, "expire_and_refund"),
        ("awaiting_payment", PAY_BY, PAY_BY + timedelta(days=1), "expire_and_refund"),
        # An order of a build without payments has no deadline.
        ("awaiting_payment", None, PAY_BY + timedelta(days=365), "paid"),
        # Already moved on: whatever the clock says, the money goes back.
        ("expired", PAY_BY, PAY_BY - timedelta(minutes=5), "refund"),
        ("expired", PAY_BY, PAY_BY + timedelta(minutes=5), "refund"),
        ("refunded", PAY_BY, PAY_BY + timedelta(minutes=5), "refund"),
        ("paid", PAY_BY, PAY_BY - timedelta(minutes=5), "refund"),  # paid by another charge
        ("paid", None, PAY_BY, "refund"),
    ],
)
def test_truth_table(status, pay_by, now, outcome):
    assert settle_success(status, pay_by, now) == outcome


def test_the_deadline_compares_instants_not_wall_clock_offsets():
    # Postgres hands back timestamptz in the session's zone: the same instant is the deadline.
    same_instant = PAY_BY.astimezone(timezone(timedelta(hours=2)))
    assert settle_success("awaiting_payment", PAY_BY, same_instant) == "expire_and_refund"
    assert settle_success("awaiting_payment", PAY_BY, same_instant - TICK) == "paid"
