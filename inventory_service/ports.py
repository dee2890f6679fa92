"""What the inventory service's use cases need from the outside world, as Protocols.

The adapters (Redis, Postgres, the broker) implement them; tests/unit/inventory/fakes.py
holds in-memory fakes that the contract tests (tests/integration/contracts) keep honest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol
from uuid import UUID

from inventory_service.dead_letters import DeadLetter, Requeue
from inventory_service.domain import Decision, NewSale, StockIncreased
from inventory_service.reconciliation import HotState, Outcome, Rebuild
from shared.contracts.messages import Command, Event, LineCommand, PlacePurchase
from shared.contracts.products import NewProduct, ProductView
from shared.contracts.sales import SaleTerms

RequestIds = Sequence[str | None]


class SaleStore(Protocol):
    """The hot state of every sale; changed only by deciding commands (atomic, in order)."""

    async def decide(self, commands: Sequence[Command]) -> list[Decision]:
        """Decide in order; a command decided before gets its first decision again."""

    async def create(
        self,
        sale_id: UUID,
        sale: NewSale,
        *,
        product: ProductView | None = None,
        remaining: int | None = None,
    ) -> bool:
        """Put the sale's counters in place unless they exist; True if this call did."""

    async def counters(self, sale_id: UUID) -> dict[str, int] | None:
        """Its counters (stock, remaining, accepted, rejected, waitlisted, waitlist_served,
        waitlist_dropped, released) read at one instant; None for an unknown sale."""

    async def terms(self, sale_id: UUID) -> SaleTerms | None:
        """What the sale sells, at what price, paid within what window."""

    async def all_sales(self) -> list[tuple[UUID, dict[str, str]]]:
        """Every sale's hash (see SaleField), by start time."""

    async def command_outcome(self, sale_id: UUID, command_id: UUID) -> StockIncreased | None:
        """The decision of a stock top-up of the sale, once it was taken."""

    async def draw_at(self, sale_id: UUID) -> int | None:
        """When the sale's waiting room is drawn, if it has one this process has not seen
        drawn (shared.contracts.fair_start); purchases made from then on come after it."""

    def room_handed_on(self, sale_id: UUID) -> None:
        """The decisions of the sale's draw are published: :meth:`draw_at` may say None.
        Not before: a batch retried after a failure must bring the draw (and republish its
        decisions) again."""


class SaleRecords(Protocol):
    """The durable sale definitions (Postgres), the truth behind the hot counters."""

    async def insert(self, sale_id: UUID, sale: NewSale, created_by: UUID) -> None: ...

    async def all(self) -> list[tuple[UUID, NewSale, ProductView]]: ...

    async def record_stock_change(self, command_id: UUID, sale_id: UUID, quantity: int) -> None:
        """Add a decided top-up to the durable stock, once per command."""

    async def record_draw(self, sale_id: UUID, seed: str, drawn_at_ms: int, tickets: int) -> None:
        """Keep a sale's waiting-room draw for audit (the first one)."""


class ProductRecords(Protocol):
    """The products (Postgres)."""

    async def insert(self, product_id: UUID, product: NewProduct, created_by: UUID) -> None: ...

    async def get(self, product_id: UUID) -> ProductView | None: ...

    async def all(self) -> list[ProductView]: ...


class OrderCounts(Protocol):
    """Each sale's orders by status: the order service's data, read through its view."""

    async def of_sale(self, sale_id: UUID) -> dict[str, int]:
        """orders, awaiting_payment, paid, expired, refunded and revenue (all 0 if none)."""

    async def held_by_sale(self) -> dict[UUID, int]:
        """Per sale, the orders that hold a unit (awaiting payment or paid)."""


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

    async def enqueue(self, command: LineCommand, request_id: str | None = None) -> None:
        """Return once the broker holds the command (confirmed); raise otherwise."""


class TicketOutcomes(Protocol):
    """Each ticket's persisted outcome: the order service's data, read through its view."""

    async def of_sale(self, sale_id: UUID) -> tuple[Outcome, ...]: ...


class ReconcilableStore(Protocol):
    """The hot state of a sale as reconciliation reads and rebuilds it."""

    async def hot_state(self, sale_id: UUID) -> HotState | None: ...

    async def replace(
        self,
        sale_id: UUID,
        sale: NewSale,
        product: ProductView,
        state: Rebuild,
        outcomes: Sequence[Outcome],
    ) -> None: ...


class DeadLetters(Protocol):
    """One pass over the dead-letter queue: read every message, move some back to the lines."""

    def read(self) -> AsyncIterator[DeadLetter]:
        """The messages in the queue when the pass began, held until moved or the pass ends
        (then the rest stay where they were)."""
        ...

    async def move(self, letter: DeadLetter, requeue: Requeue) -> None:
        """Put ``requeue.back`` into the lines and ``requeue.kept`` back into the dead
        letters, confirmed, then remove the letter; raise (leaving it in place) otherwise."""


class QueuedTickets(Protocol):
    """The ticket records of purchases going back into line."""

    async def restore(self, purchases: Sequence[PlacePurchase]) -> None:
        """Make each undecided purchase's ticket readable as queued, in its sale's line."""
