"""What the inventory service's use cases need from the outside world, as Protocols.

The adapters (Redis, Postgres, the broker) implement them; tests/unit/inventory/fakes.py
holds in-memory fakes that the contract tests (tests/integration/contracts) keep honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from inventory_service.domain import Decision, NewSale, StockIncreased
from shared.contracts.messages import AddStock, Command, Event

RequestIds = Sequence[str | None]


class SaleStore(Protocol):
    """The hot state of every sale; changed only by deciding commands (atomic, in order)."""

    async def decide(self, commands: Sequence[Command]) -> list[Decision]:
        """Decide in order; a command decided before gets its first decision again."""

    async def create(self, sale_id: UUID, sale: NewSale, *, remaining: int | None = None) -> bool:
        """Put the sale's counters in place unless they exist; True if this call did."""

    async def counters(self, sale_id: UUID) -> dict[str, int] | None:
        """stock, remaining, accepted and rejected; None for an unknown sale."""

    async def command_outcome(self, command_id: UUID) -> StockIncreased | None:
        """The decision of a stock top-up, once it was taken."""


class SaleRecords(Protocol):
    """The durable sale definitions (Postgres), the truth behind the hot counters."""

    async def insert(self, sale_id: UUID, sale: NewSale, created_by: UUID) -> None: ...

    async def all(self) -> list[tuple[UUID, NewSale]]: ...

    async def record_stock_change(self, command_id: UUID, sale_id: UUID, quantity: int) -> None:
        """Add a decided top-up to the durable stock, once per command."""


class OrderCounts(Protocol):
    """How many orders each sale has: the order service's data, read through its view."""

    async def of_sale(self, sale_id: UUID) -> int: ...

    async def by_sale(self) -> dict[UUID, int]: ...


class DecisionPublisher(Protocol):
    """Where decisions go (the order service's queue) and what cannot be decided goes."""

    async def publish(self, events: Sequence[Event], request_ids: RequestIds) -> None:
        """Return once the broker holds them (confirmed); raise otherwise."""

    async def dead_letter(
        self, commands: Sequence[Command], request_ids: RequestIds, *, reason: str
    ) -> None:
        """Return once the broker holds them in the dead-letter queue; raise otherwise."""


class CommandLine(Protocol):
    """The sales' lines: an operator's command enters its sale's line like a purchase."""

    async def enqueue(self, command: AddStock, request_id: str | None) -> None:
        """Return once the broker holds the command (confirmed); raise otherwise."""
