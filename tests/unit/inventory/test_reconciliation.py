"""Reconciliation's rules: what agrees, what drifts, what a rebuild holds."""

from __future__ import annotations

from uuid import uuid4

from inventory_service.reconciliation import DurableState, HotState, Outcome, compare, rebuild

ALICE, BOB, CAROL = uuid4(), uuid4(), uuid4()


def order(user, status):
    return Outcome(uuid4(), user, "confirmed", None, uuid4(), status)


DURABLE = DurableState(
    stock=5,
    outcomes=(
        order(ALICE, "paid"),
        order(BOB, "awaiting_payment"),
        order(CAROL, "expired"),
        Outcome(uuid4(), CAROL, "rejected", "limit_reached", None, None),
    ),
)


def hot(**changes):
    values = dict(
        stock=5, remaining=3, accepted=3, rejected=1, waitlisted=0, waitlist_served=0,
        waitlist_dropped=0, released=1, buyers=2, waiting=0,
    )  # fmt: skip
    return HotState(**{**values, **changes})


def test_a_drained_sale_agrees():
    assert all(c.agrees for c in compare(hot(), DURABLE))


def test_each_kind_of_drift_is_named():
    drifting = {c.what for c in compare(hot(remaining=4, buyers=3), DURABLE) if not c.agrees}
    assert drifting == {"remaining = stock - held", "per-buyer counters = held + waiting"}
    assert not compare(None, DURABLE)[0].agrees  # no counters at all


def test_a_rebuild_agrees_with_what_it_was_built_from():
    state = rebuild(DURABLE)
    assert (state.remaining, state.accepted, state.released) == (3, 3, 1)
    assert state.buyers == {ALICE: 1, BOB: 1}  # Carol's order expired: her slot is free
    rebuilt = HotState(
        stock=DURABLE.stock, remaining=state.remaining, accepted=state.accepted,
        rejected=state.rejected, waitlisted=0, waitlist_served=0, waitlist_dropped=0,
        released=state.released, buyers=sum(state.buyers.values()), waiting=0,
    )  # fmt: skip
    assert all(c.agrees for c in compare(rebuilt, DURABLE))
