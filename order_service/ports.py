"""What the order service's use cases need from the outside world, as Protocols.

The adapters (Postgres, Redis) implement them; tests/unit/order/fakes.py holds in-memory
fakes that the contract tests (tests/integration/contracts) keep honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from order_service.adapters.postgres_payments import (
    EventOutcome,
    OrderChange,
    Payment,
    Release,
)
from order_service.domain import Outcome
from order_service.payments import WebhookEvent
from shared.contracts.messages import LineCommand

OrderObject = dict[str, Any]


class OrderStore(Protocol):
    """The durable record: tickets and orders (Postgres)."""

    async def persist(self, outcomes: Sequence[Outcome]) -> None:
        """Write a batch atomically; what is there already is kept (idempotent)."""

    async def orders_of(self, user_id: UUID, limit: int) -> list[OrderObject]:
        """The user's orders, newest first, as the API's order objects."""

    async def order_of(self, order_id: UUID, user_id: UUID) -> OrderObject | None:
        """The order if it is the user's; None otherwise (not found, whoever asks)."""


class TicketFinaliser(Protocol):
    """Where buyers see the outcome (the ticket records the gateways read, and their feed)."""

    async def finalise(self, outcomes: Sequence[Outcome]) -> None:
        """Move each ticket to its final state (never back) and tell every gateway."""

    async def show_orders(self, changes: Sequence[OrderChange]) -> None:
        """Show each order's new status on its ticket (never back) and tell every gateway."""


class PaymentStore(Protocol):
    """Payments, the provider's events, expiry and the release outbox (Postgres): where an
    order's status changes, one transaction at a time."""

    async def start(
        self,
        order_id: UUID,
        user_id: UUID,
        *,
        payment_method: str,
        provider: str,
        idempotency_key: str | None,
    ) -> tuple[Payment, bool]: ...

    async def fail(self, payment_id: UUID, code: str) -> None: ...

    async def payments_of(self, order_id: UUID, user_id: UUID) -> list[Payment] | None: ...

    async def apply(self, event: WebhookEvent) -> EventOutcome: ...

    async def expire_due(self, limit: int = 500) -> list[OrderChange]: ...

    async def unpublished_releases(self, limit: int = 500) -> list[Release]: ...

    async def mark_published(self, order_ids: Sequence[UUID]) -> None: ...

    async def open_payments(self) -> list[Payment]: ...


class SaleLine(Protocol):
    """The sales' lines: a released unit enters its sale's line like a purchase."""

    async def enqueue_all(self, commands: Sequence[LineCommand]) -> None:
        """Return once the broker holds every command (confirmed); raise otherwise."""
