"""What the gateway's use cases need from the outside world, as Protocols.

The adapters (Redis, the broker, memory) implement them; tests/unit/gateway/fakes.py holds
in-memory fakes that the contract tests (tests/integration/contracts) keep honest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol
from uuid import UUID

from gateway.domain import Earlier, Intent, SaleSnapshot, Ticket


class SaleCatalog(Protocol):
    """The sales as this gateway knows them (kept fresh by the deciders' updates)."""

    async def get(self, sale_id: UUID) -> SaleSnapshot | None: ...

    def known(self) -> Iterable[SaleSnapshot]:
        """Every sale this gateway has seen (for the demand waiting in a partition)."""


class WaitingRooms(Protocol):
    """Who holds a ticket in a sale's waiting room (one per buyer)."""

    async def join_room(self, sale_id: str, user_id: str, ticket_id: str) -> str | None:
        """Put the buyer's ticket in the room; None, or the ticket they already hold there."""
        ...

    async def leave_room(self, sale_id: str, user_id: str, ticket_id: str) -> None:
        """Take back a ticket that was not queued after all."""
        ...


class TicketRecords(WaitingRooms, Protocol):
    """Ticket records: written when a batch is queued, read by polls and streams."""

    async def issue(self, purchases: Sequence[Intent], status: str = "queued") -> None:
        """Record a batch as queued and counted in its sales' lines; on failure nothing of
        it is left behind."""

    async def withdraw(self, purchases: Sequence[Intent]) -> None:
        """A recorded batch the broker did not take: not in line, and no ticket to show."""

    async def get(self, ticket_id: str, owner: str) -> Ticket | None:
        """The ticket if ``owner`` owns it; None otherwise (no hint that it exists)."""

    def watch(self, ticket_id: str) -> asyncio.Event:
        """An event set whenever an update for the ticket arrives."""

    def unwatch(self, ticket_id: str, event: asyncio.Event) -> None: ...


class ProofOfWork(Protocol):
    """A sale's proof-of-work gate (issue 14): raises unless ``solution`` solves a challenge
    this gateway's kind issued to this buyer for this sale, unused and unexpired."""

    async def verify(
        self, user_id: UUID, sale_id: UUID, difficulty: int, solution: str | None
    ) -> None: ...


class IntentQueue(Protocol):
    """The sales' lines on the broker, one per partition."""

    async def publish(
        self, partition: int, purchases: Sequence[Intent], request_ids: Sequence[str | None]
    ) -> None:
        """Return once the broker confirmed the batch; raise a dependency error otherwise."""


class IdempotencyClaim(Protocol):
    """One request's Idempotency-Key (a request without one gets a claim that does nothing)."""

    async def earlier(self) -> Earlier | None:
        """What an earlier request with this key got, if there was one."""

    async def claim(self, ticket_id: str) -> Earlier | None:
        """Take the key for ``ticket_id`` (pending), unless a concurrent request was first."""

    async def confirm(self, ticket_id: str) -> None:
        """The broker confirmed the ticket's intent: a repeat now gets the ticket."""

    async def release(self) -> None:
        """The request failed: a repeat may try again."""


class IdempotencyKeys(Protocol):
    def for_request(self, user_id: UUID, sale_id: UUID, key: str | None) -> IdempotencyClaim: ...
