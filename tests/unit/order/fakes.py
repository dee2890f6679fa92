"""In-memory fakes of the order service's ports (order_service/ports.py); the contract tests
(tests/integration/contracts) hold them to what Postgres and Redis do."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from order_service.domain import Outcome
from order_service.ports import OrderRow
from shared.contracts.redis_layout import moves_forward
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

    async def orders_of(self, user_id: UUID, limit: int) -> list[OrderRow]:
        mine = [o for o in self.tickets.values() if o.user_id == user_id and o.order_id is not None]
        mine.sort(key=lambda o: (-o.decided_at.timestamp(), str(o.order_id)))
        return [
            {
                "order_id": o.order_id,
                "ticket_id": o.ticket_id,
                "sale_id": o.sale_id,
                "created_at": o.decided_at,
            }
            for o in mine[:limit]
            if o.order_id is not None
        ]


class FakeTicketFinaliser(Failing):
    def __init__(self) -> None:
        self.status: dict[UUID, tuple[str, str | None, UUID | None]] = {}
        self.announced: list[list[UUID]] = []  # what the gateways were told, per batch

    async def finalise(self, outcomes: Sequence[Outcome]) -> None:
        self._maybe_fail()
        for o in outcomes:
            current = self.status.get(o.ticket_id, (None, None, None))[0]
            if moves_forward(current, o.status):
                self.status[o.ticket_id] = (o.status, o.reason, o.order_id)
        self.announced.append([o.ticket_id for o in outcomes])
