"""What the order service's use cases need from the outside world, as Protocols.

The adapters (Postgres, Redis) implement them; tests/unit/order/fakes.py holds in-memory
fakes that the contract tests (tests/integration/contracts) keep honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from order_service.domain import Outcome

OrderRow = dict[str, UUID | datetime]


class OrderStore(Protocol):
    """The durable record: tickets and orders (Postgres)."""

    async def persist(self, outcomes: Sequence[Outcome]) -> None:
        """Write a batch atomically; what is there already is kept (idempotent)."""

    async def orders_of(self, user_id: UUID, limit: int) -> list[OrderRow]:
        """The user's orders, newest first: order_id, ticket_id, sale_id, created_at."""


class TicketFinaliser(Protocol):
    """Where buyers see the outcome (the ticket records the gateways read, and their feed)."""

    async def finalise(self, outcomes: Sequence[Outcome]) -> None:
        """Move each ticket to its final state (never back) and tell every gateway."""
