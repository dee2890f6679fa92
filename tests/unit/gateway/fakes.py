"""In-memory fakes of the gateway's ports (gateway/ports.py); the contract tests
(tests/integration/contracts) hold them to what Redis and the broker do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from uuid import UUID

from gateway.adapters.redis_idempotency import NO_KEY
from gateway.domain import Earlier, Intent, SaleSnapshot, Ticket
from gateway.ports import IdempotencyClaim
from shared.contracts.sales import SaleTerms
from tests.unit.inventory.fakes import Failing


class FakeSales:
    def __init__(self, *sales: SaleSnapshot) -> None:
        self.sales = {s.sale_id: s for s in sales}

    async def get(self, sale_id: UUID) -> SaleSnapshot | None:
        return self.sales.get(sale_id)

    def known(self) -> Iterable[SaleSnapshot]:
        return self.sales.values()


class FakeTickets(Failing):
    def __init__(self) -> None:
        self.records: dict[str, Ticket] = {}
        self.enqueued: dict[str, int] = {}  # sale -> count in line
        self.withdrawn: list[str] = []
        self.rooms: dict[tuple[str, str], str] = {}  # (sale, user) -> ticket in its room

    async def issue(self, purchases: Sequence[Intent], status: str = "queued") -> None:
        self._maybe_fail()
        for p in purchases:
            sale = str(p.sale_id)
            self.enqueued[sale] = self.enqueued.get(sale, 0) + 1
            self.records[str(p.ticket_id)] = Ticket(
                str(p.user_id), sale, status, seq=self.enqueued[sale]
            )

    async def join_room(self, sale_id: str, user_id: str, ticket_id: str) -> str | None:
        self._maybe_fail()
        held = self.rooms.setdefault((sale_id, user_id), ticket_id)
        return None if held == ticket_id else held

    async def leave_room(self, sale_id: str, user_id: str, ticket_id: str) -> None:
        if self.rooms.get((sale_id, user_id)) == ticket_id:
            del self.rooms[(sale_id, user_id)]

    async def withdraw(self, purchases: Sequence[Intent]) -> None:
        self._maybe_fail()
        for p in purchases:
            self.enqueued[str(p.sale_id)] -= 1
            self.records.pop(str(p.ticket_id), None)
            self.withdrawn.append(str(p.ticket_id))

    async def get(self, ticket_id: str, owner: str) -> Ticket | None:
        ticket = self.records.get(ticket_id)
        return ticket if ticket is not None and ticket.user_id == owner else None

    def watch(self, ticket_id: str) -> asyncio.Event:
        return asyncio.Event()

    def unwatch(self, ticket_id: str, event: asyncio.Event) -> None:
        return None


class FakeIntents(Failing):
    """The broker's lines: what was confirmed, per partition, one entry per message."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, list[Intent], list[str | None]]] = []
        self.gate: asyncio.Event | None = None  # set: publishes wait for it (slow confirms)

    async def publish(
        self, partition: int, purchases: Sequence[Intent], request_ids: Sequence[str | None]
    ) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self._maybe_fail()
        self.messages.append((partition, list(purchases), list(request_ids)))


class FakeIdempotency:
    def __init__(self) -> None:
        self.values: dict[tuple[UUID, UUID, str], Earlier] = {}

    def for_request(self, user_id: UUID, sale_id: UUID, key: str | None) -> IdempotencyClaim:
        return NO_KEY if key is None else _FakeClaim(self.values, (user_id, sale_id, key))


class _FakeClaim:
    def __init__(self, values: dict[tuple[UUID, UUID, str], Earlier], key) -> None:
        self._values = values
        self._key = key

    async def earlier(self) -> Earlier | None:
        return self._values.get(self._key)

    async def claim(self, ticket_id: str) -> Earlier | None:
        if self._key in self._values:
            return self._values[self._key]
        self._values[self._key] = Earlier(str(ticket_id), in_progress=True)
        return None

    async def confirm(self, ticket_id: str) -> None:
        self._values[self._key] = Earlier(str(ticket_id), in_progress=False)

    async def release(self) -> None:
        self._values.pop(self._key, None)


def open_sale(sale_id: UUID, *, remaining: int = 10, version: int = 1) -> SaleSnapshot:
    """A sale of 10 units that started a minute ago and ends in an hour, ``remaining`` left."""
    now = int(time.time() * 1000)
    return SaleSnapshot(
        sale_id=sale_id,
        name="drop",
        starts_at_ms=now - 60_000,
        ends_at_ms=now + 3_600_000,
        per_user_limit=1,
        stock=10,
        remaining=remaining,
        accepted=10 - remaining,
        rejected=0,
        enqueued=10 - remaining,
        version=version,
        terms=SaleTerms.from_hash(sale_id, {"name": "drop"}),
    )
