"""In-memory fakes of the order service's ports (order_service/ports.py); the contract tests
(tests/integration/contracts) hold them to what Postgres and Redis do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from order_service.adapters.postgres_payments import OrderChange
from order_service.domain import Outcome, order_status_of
from order_service.ports import OrderObject
from shared.contracts.redis_layout import moves_forward, order_moves_forward
from tests.unit.inventory.fakes import Failing


class FakeOrderStore(Failing):
    def __init__(self) -> None:
        self.tickets: dict[UUID, Outcome] = {}
        self.commits = 0

    async def persist(self, outcomes: Sequence[Outcome]) -> None:
        self._maybe_fail()
        for outcome in outcomes:
            self.tickets.setdefault(outcome.ticket_id, outcome)
        self.commits += 1

    async def orders_of(self, user_id: UUID, limit: int) -> list[OrderObject]:
        mine = [o for o in self.tickets.values() if o.user_id == user_id and o.order_id is not None]
        mine.sort(key=lambda o: (-o.decided_at.timestamp(), str(o.order_id)))
        return [_order_object(o) for o in mine[:limit]]

    async def order_of(self, order_id: UUID, user_id: UUID) -> OrderObject | None:
        for o in self.tickets.values():
            if o.order_id == order_id and o.user_id == user_id:
                return _order_object(o)
        return None


def _order_object(o: Outcome) -> dict[str, Any]:
    """An order as the API shows it (see order_service.adapters.postgres_orders), for an
    order nobody paid or expired yet; products are not known here (as for a product the
    catalog lacks)."""
    assert o.terms is not None
    status = order_status_of(o.terms)
    return {
        "order_id": str(o.order_id),
        "ticket_id": str(o.ticket_id),
        "sale_id": str(o.sale_id),
        "product": None,
        "price": {"amount": o.terms.price_amount, "currency": o.terms.currency},
        "status": status,
        "pay_by": None if o.terms.pay_by is None else o.terms.pay_by.isoformat(),
        "paid_at": o.decided_at.isoformat() if status == "paid" else None,
        "expired_at": None,
        "refunded_at": None,
        "created_at": o.decided_at.isoformat(),
    }


class FakeTicketFinaliser(Failing):
    def __init__(self) -> None:
        self.status: dict[UUID, tuple[str, str | None, UUID | None]] = {}
        self.announced: list[list[UUID]] = []  # what the gateways were told, per batch
        self.order_status: dict[UUID, str] = {}

    async def finalise(self, outcomes: Sequence[Outcome]) -> None:
        self._maybe_fail()
        for o in outcomes:
            current = self.status.get(o.ticket_id, (None, None, None))[0]
            if moves_forward(current, o.status):
                self.status[o.ticket_id] = (o.status, o.reason, o.order_id)
        self.announced.append([o.ticket_id for o in outcomes])

    async def show_orders(self, changes: Sequence[OrderChange]) -> None:
        self._maybe_fail()
        for change in changes:
            if order_moves_forward(self.order_status.get(change.ticket_id), change.status):
                self.order_status[change.ticket_id] = change.status
