"""In-memory fakes of the inventory service's ports (inventory_service/ports.py).

FakeSaleStore decides with the pure rules (inventory_service/domain.py) that the Redis script
implements; tests/integration/contracts/test_sale_store.py holds both to the same answers.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from uuid import UUID

from inventory_service.domain import (
    Decision,
    NewSale,
    SaleCounters,
    StockIncreased,
    decide_batch,
    sale_terms,
)
from shared.contracts.messages import Command, Event, LineCommand
from shared.contracts.products import NewProduct, ProductView
from shared.contracts.sales import SaleTerms, datetime_to_ms


class Failing:
    """Mixin: ``fail_with`` makes the next call of any port method raise it (then clears)."""

    fail_with: BaseException | None = None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error


class FakeSaleStore(Failing):
    def __init__(self) -> None:
        self.sales: dict[UUID, SaleCounters] = {}
        self.decided: dict[UUID, Decision] = {}  # ticket or command id -> its first decision
        self.sale_terms: dict[UUID, SaleTerms] = {}
        self.names: dict[UUID, str] = {}
        self.handed_on: set[UUID] = set()

    async def decide(self, commands: Sequence[Command]) -> list[Decision]:
        self._maybe_fail()
        return decide_batch(self.sales, commands, self.decided, seed=secrets.token_hex(16))

    def room_handed_on(self, sale_id: UUID) -> None:
        self.handed_on.add(sale_id)

    async def draw_at(self, sale_id: UUID) -> int | None:
        sale = self.sales.get(sale_id)
        if sale is None or sale.fair is None or not sale.fair.enabled:
            return None
        if sale_id in self.handed_on:
            return None
        return sale.fair.draw_at_ms

    async def create(
        self,
        sale_id: UUID,
        sale: NewSale,
        *,
        product: ProductView | None = None,
        remaining: int | None = None,
    ) -> bool:
        self._maybe_fail()
        if sale_id in self.sales:
            return False
        product = product or SaleTerms.from_hash(sale_id, {"name": sale.name}).product
        self.sale_terms[sale_id] = terms = sale_terms(
            sale.model_copy(
                update={
                    "price": sale.price or product.price,
                    "payment_window_seconds": sale.payment_window_seconds or 600,
                }
            ),
            product,
        )
        self.names[sale_id] = sale.name
        left = sale.stock if remaining is None else remaining
        self.sales[sale_id] = SaleCounters(
            stock=sale.stock,
            remaining=left,
            starts_at_ms=datetime_to_ms(sale.starts_at),
            ends_at_ms=datetime_to_ms(sale.ends_at),
            per_user_limit=sale.per_user_limit,
            accepted=sale.stock - left,
            waitlist_size=sale.waitlist_size,
            fair=terms.fair_start(datetime_to_ms(sale.starts_at)),
        )
        return True

    async def counters(self, sale_id: UUID) -> dict[str, int] | None:
        self._maybe_fail()
        sale = self.sales.get(sale_id)
        if sale is None:
            return None
        return {
            "stock": sale.stock,
            "remaining": sale.remaining,
            "accepted": sale.accepted,
            "rejected": sale.rejected,
            "waitlisted": sale.waitlisted,
            "waitlist_served": sale.waitlist_served,
            "waitlist_dropped": sale.waitlist_dropped,
            "released": sale.released,
        }

    async def terms(self, sale_id: UUID) -> SaleTerms | None:
        self._maybe_fail()
        return self.sale_terms.get(sale_id)

    async def all_sales(self) -> list[tuple[UUID, dict[str, str]]]:
        self._maybe_fail()
        return [
            (
                sale_id,
                {
                    "name": self.names[sale_id],
                    "ends_at_ms": str(sale.ends_at_ms),
                    "waitlisted": str(sale.waitlisted),
                    "waitlist_served": str(sale.waitlist_served),
                    "waitlist_dropped": str(sale.waitlist_dropped),
                    "starts_at_ms": str(sale.starts_at_ms),
                    "room": str(len(sale.room)),
                    "drawn_at_ms": str(sale.drawn_at_ms),
                    **_fair_fields(self.sale_terms[sale_id]),
                },
            )
            for sale_id, sale in self.sales.items()
        ]

    async def command_outcome(self, sale_id: UUID, command_id: UUID) -> StockIncreased | None:
        self._maybe_fail()
        decision = self.decided.get(command_id)
        return decision if isinstance(decision, StockIncreased) else None


def _fair_fields(terms: SaleTerms) -> dict[str, str]:
    return {
        "waiting_room_opens_at_ms": str(terms.waiting_room_opens_ms),
        "fair_window_ms": str(terms.fair_window_ms),
    }


class FakeSaleRecords(Failing):
    def __init__(self) -> None:
        self.sales: dict[UUID, tuple[NewSale, UUID]] = {}
        self.stock_changes: dict[UUID, tuple[UUID, int]] = {}  # command -> (sale, quantity)
        self.draws: dict[UUID, tuple[str, int, int]] = {}  # sale -> (seed, at, tickets)

    async def insert(self, sale_id: UUID, sale: NewSale, created_by: UUID) -> None:
        self._maybe_fail()
        self.sales[sale_id] = (sale, created_by)

    async def all(self) -> list[tuple[UUID, NewSale, ProductView]]:
        self._maybe_fail()
        return [
            (sale_id, sale, SaleTerms.from_hash(sale_id, {"name": sale.name}).product)
            for sale_id, (sale, _) in self.sales.items()
        ]

    async def record_stock_change(self, command_id: UUID, sale_id: UUID, quantity: int) -> None:
        self._maybe_fail()
        self.stock_changes.setdefault(command_id, (sale_id, quantity))

    async def record_draw(self, sale_id: UUID, seed: str, drawn_at_ms: int, tickets: int) -> None:
        self._maybe_fail()
        self.draws.setdefault(sale_id, (seed, drawn_at_ms, tickets))


class FakeProducts(Failing):
    def __init__(self) -> None:
        self.products: dict[UUID, ProductView] = {}

    async def insert(self, product_id: UUID, product: NewProduct, created_by: UUID) -> None:
        self._maybe_fail()
        self.products[product_id] = ProductView(
            product_id=product_id, **product.model_dump(mode="json")
        )

    async def get(self, product_id: UUID) -> ProductView | None:
        return self.products.get(product_id)

    async def all(self) -> list[ProductView]:
        return list(self.products.values())


class FakeOrderCounts:
    """Orders that hold a unit, per sale (as if none was paid, expired or refunded yet)."""

    def __init__(self, counts: dict[UUID, int] | None = None) -> None:
        self.counts = dict(counts or {})

    async def of_sale(self, sale_id: UUID) -> dict[str, int]:
        held = self.counts.get(sale_id, 0)
        return {"orders": held, "awaiting_payment": held, "paid": 0, "expired": 0,
                "refunded": 0, "revenue": 0}  # fmt: skip

    async def held_by_sale(self) -> dict[UUID, int]:
        return dict(self.counts)


class FakeDecisionPublisher(Failing):
    def __init__(self) -> None:
        self.published: list[tuple[list[Event], list[str | None]]] = []
        self.dead: list[tuple[list[Command], list[str | None], str]] = []

    async def publish(self, events: Sequence[Event], request_ids: Sequence[str | None]) -> None:
        self._maybe_fail()
        self.published.append((list(events), list(request_ids)))

    async def dead_letter(
        self, commands: Sequence[Command], request_ids: Sequence[str | None], *, reason: str
    ) -> None:
        self._maybe_fail()
        self.dead.append((list(commands), list(request_ids), reason))

    @property
    def events(self) -> list[Event]:
        return [event for events, _ in self.published for event in events]


class FakeCommandLine:
    """A sale's line; with ``store`` set it is decided at once (an idle line), without it the
    command waits (a long line)."""

    def __init__(self, store: FakeSaleStore | None = None) -> None:
        self.store = store
        self.enqueued: list[tuple[LineCommand, str | None]] = []

    async def enqueue(self, command: LineCommand, request_id: str | None = None) -> None:
        self.enqueued.append((command, request_id))
        if self.store is not None:
            await self.store.decide([command])
