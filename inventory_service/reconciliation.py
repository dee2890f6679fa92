"""Reconciliation, pure: do a sale's hot counters in Redis agree with the durable record in
Postgres, and what Redis must hold when it is rebuilt from that record.

They agree only once the lines are drained (no intent waiting to be decided, no decision
waiting to be persisted): until then Redis is legitimately ahead of Postgres. The CLI
(`python -m inventory_service reconcile`) reports how much is in flight next to the figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from shared.contracts.redis_layout import units_held


@dataclass(frozen=True)
class HotState:
    """A sale as Redis holds it (see shared.contracts.redis_layout.SaleField)."""

    stock: int
    remaining: int
    accepted: int
    rejected: int
    waitlisted: int
    waitlist_served: int
    waitlist_dropped: int
    released: int
    buyers: int  # the per-user counters added up
    waiting: int  # tickets on the waitlist now

    @property
    def held(self) -> int:
        return units_held(self.accepted, self.waitlist_served, self.released)


@dataclass(frozen=True)
class Outcome:
    """A ticket's persisted outcome, and its order's status when it won."""

    ticket_id: UUID
    user_id: UUID
    status: str  # confirmed | rejected
    reason: str | None
    order_id: UUID | None
    order_status: str | None


@dataclass(frozen=True)
class DurableState:
    """A sale as Postgres records it."""

    stock: int  # with every top-up
    outcomes: tuple[Outcome, ...]

    @property
    def held(self) -> int:
        """Orders that hold a unit: awaiting payment or paid."""
        return sum(o.order_status in ("awaiting_payment", "paid") for o in self.outcomes)

    @property
    def released(self) -> int:
        """Orders whose unit went back: expired (or refunded after expiring)."""
        return sum(o.order_status in ("expired", "refunded") for o in self.outcomes)

    @property
    def rejected(self) -> int:
        return sum(o.status == "rejected" for o in self.outcomes)


@dataclass(frozen=True)
class Check:
    what: str
    redis: int | None
    expected: int

    @property
    def agrees(self) -> bool:
        return self.redis == self.expected


def compare(hot: HotState | None, durable: DurableState) -> list[Check]:
    """What Redis says against what it should say, given the durable record."""
    if hot is None:
        return [Check("sale counters present", 0, 1)]
    return [
        Check("stock (with top-ups)", hot.stock, durable.stock),
        Check("units held (awaiting payment or paid)", hot.held, durable.held),
        Check("remaining = stock - held", hot.remaining, durable.stock - durable.held),
        Check("units released by expired orders", hot.released, durable.released),
        Check("per-buyer counters = held + waiting", hot.buyers, durable.held + hot.waiting),
    ]


@dataclass(frozen=True)
class Rebuild:
    """What a sale's Redis state is rebuilt to, from Postgres alone. The waitlist is not in
    Postgres: rebuilt counters start with an empty one (see docs/RECONCILE.md)."""

    remaining: int
    accepted: int
    rejected: int
    released: int
    decided: int  # every persisted ticket: the sale's enqueued count, so nothing reads as waiting
    buyers: dict[UUID, int]


def rebuild(durable: DurableState) -> Rebuild:
    holders = Counter(
        o.user_id for o in durable.outcomes if o.order_status in ("awaiting_payment", "paid")
    )
    return Rebuild(
        remaining=max(durable.stock - durable.held, 0),
        # Every order was accepted once; those released since hold no unit.
        accepted=durable.held + durable.released,
        rejected=durable.rejected,
        released=durable.released,
        decided=len(durable.outcomes),
        buyers=dict(holders),
    )
