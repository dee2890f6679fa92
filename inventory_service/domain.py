"""The decision rules, pure: what a purchase intent gets, given the sale and the buyer.

This is the specification the Redis script (``decide.lua``) implements atomically; the
integration tests run both on the same sequences and require the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.fair_start import MAX_FAIR_WINDOW_SECONDS, MAX_POW_DIFFICULTY
from shared.contracts.messages import (
    AddStock,
    CloseWaitlist,
    Command,
    PlacePurchase,
    RejectReason,
    ReleaseUnit,
)
from shared.contracts.products import Money, ProductView
from shared.contracts.redis_layout import units_held
from shared.contracts.sales import SaleTerms, datetime_to_ms


@dataclass
class SaleCounters:
    """The hot state of one sale, as the decider sees it."""

    stock: int
    remaining: int
    starts_at_ms: int
    ends_at_ms: int
    per_user_limit: int
    accepted: int = 0
    rejected: int = 0
    buyers: dict[UUID, int] = field(default_factory=dict)
    waitlist_size: int = 0
    waitlist: list[tuple[UUID, UUID]] = field(default_factory=list)  # (ticket, user), in order
    waitlisted: int = 0  # buyers ever put on the waitlist
    waitlist_served: int = 0
    waitlist_dropped: int = 0
    released: int = 0

    @property
    def held(self) -> int:
        """Units reserved for buyers (awaiting payment or paid): held + remaining = stock."""
        return units_held(self.accepted, self.waitlist_served, self.released)


@dataclass(frozen=True)
class Accepted:
    ticket_id: UUID


@dataclass(frozen=True)
class Rejected:
    ticket_id: UUID
    reason: RejectReason


@dataclass(frozen=True)
class Waitlisted:
    """No unit left, but room on the waitlist: the ticket waits for a released unit."""

    ticket_id: UUID
    seq: int  # its place on the waitlist, counted from 1


@dataclass(frozen=True)
class Released:
    """An expired order's unit came back: to ``promoted`` (ticket, user), else to stock."""

    command_id: UUID
    promoted: tuple[UUID, UUID] | None


@dataclass(frozen=True)
class WaitlistClosed:
    """The sale ended: these (ticket, user) waited in vain and are refused."""

    command_id: UUID
    dropped: tuple[tuple[UUID, UUID], ...]


@dataclass(frozen=True)
class StockIncreased:
    """Units added; the first of them went to ``promoted`` (ticket, user) on the waitlist."""

    command_id: UUID
    stock: int
    remaining: int
    promoted: tuple[tuple[UUID, UUID], ...] = ()


@dataclass(frozen=True)
class UnknownSale:
    """The command names a sale the decider does not know: a poison item."""

    sale_id: UUID


Decision = (
    Accepted | Rejected | Waitlisted | StockIncreased | Released | WaitlistClosed | UnknownSale
)
PurchaseDecision = Accepted | Rejected | Waitlisted


def decide_purchase(sale: SaleCounters, intent: PlacePurchase) -> PurchaseDecision:
    """Decide one purchase and apply it to ``sale``: window, then the buyer's limit, then
    stock, then room on the waitlist. (A buyer on the waitlist counts against the limit:
    they are in line for a unit.)"""
    if not sale.starts_at_ms <= intent.requested_at_ms < sale.ends_at_ms:
        decision: PurchaseDecision = Rejected(intent.ticket_id, "sale_not_active")
    elif sale.remaining <= 0 and sale.waitlisted >= sale.waitlist_size:
        decision = Rejected(intent.ticket_id, "sold_out")
    elif sale.buyers.get(intent.user_id, 0) >= sale.per_user_limit:
        decision = Rejected(intent.ticket_id, "limit_reached")
    else:
        sale.buyers[intent.user_id] = sale.buyers.get(intent.user_id, 0) + 1
        if sale.remaining > 0:
            sale.remaining -= 1
            sale.accepted += 1
            return Accepted(intent.ticket_id)
        sale.waitlisted += 1
        sale.waitlist.append((intent.ticket_id, intent.user_id))
        return Waitlisted(intent.ticket_id, sale.waitlisted)
    sale.rejected += 1
    return decision


def release_unit(sale: SaleCounters, command: ReleaseUnit) -> Released:
    """Give an expired order's unit to the first buyer on the waitlist (while the sale is
    open), else back to stock; the expired buyer's slot is free again."""
    sale.released += 1
    held = sale.buyers.get(command.user_id, 0)
    if held > 0:
        sale.buyers[command.user_id] = held - 1
    if sale.waitlist and command.requested_at_ms < sale.ends_at_ms:
        promoted = sale.waitlist.pop(0)
        sale.waitlist_served += 1
        return Released(command.command_id, promoted)
    sale.remaining += 1
    return Released(command.command_id, None)


def close_waitlist(sale: SaleCounters, command: CloseWaitlist) -> WaitlistClosed:
    dropped = tuple(sale.waitlist)
    sale.waitlist.clear()
    sale.waitlist_dropped += len(dropped)
    sale.rejected += len(dropped)
    return WaitlistClosed(command.command_id, dropped)


def add_stock(sale: SaleCounters, command: AddStock) -> StockIncreased:
    """Add units: those waiting were in line first, so while the sale is open the new units
    go to the waitlist in its order, and the rest to stock."""
    sale.stock += command.quantity
    promoted: list[tuple[UUID, UUID]] = []
    if command.requested_at_ms < sale.ends_at_ms:
        while sale.waitlist and len(promoted) < command.quantity:
            promoted.append(sale.waitlist.pop(0))
    sale.waitlist_served += len(promoted)
    sale.remaining += command.quantity - len(promoted)
    return StockIncreased(command.command_id, sale.stock, sale.remaining, tuple(promoted))


def decide_batch(
    sales: dict[UUID, SaleCounters],
    commands: Sequence[Command],
    decided: dict[UUID, Decision],
) -> list[Decision]:
    """Decide ``commands`` in order; a key already in ``decided`` gets its earlier outcome."""
    out: list[Decision] = []
    for command in commands:
        key = command.ticket_id if isinstance(command, PlacePurchase) else command.command_id
        if key in decided:
            out.append(decided[key])
            continue
        sale = sales.get(command.sale_id)
        decision: Decision
        if sale is None:
            decision = UnknownSale(command.sale_id)
        elif isinstance(command, PlacePurchase):
            decision = decide_purchase(sale, command)
        elif isinstance(command, AddStock):
            decision = add_stock(sale, command)
        elif isinstance(command, ReleaseUnit):
            decision = release_unit(sale, command)
        else:
            decision = close_waitlist(sale, command)
        if not isinstance(decision, UnknownSale):
            decided[key] = decision
        out.append(decision)
    return out


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class NewSale(BaseModel):
    """A sale's definition. Through the API (SaleRequest) it names a product; the terms left
    out (price, payment window) are filled in from the product and the settings before the
    sale is stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # No NUL: Postgres text cannot hold it.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    stock: int = Field(ge=1, le=1_000_000_000)
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int = Field(default=1, ge=1, le=1_000_000)
    product_id: UUID | None = None
    price: Money | None = None  # the sale price; default: the product's
    payment_window_seconds: int | None = Field(default=None, ge=5, le=86_400)
    waitlist_size: int = Field(default=0, ge=0, le=1_000_000)
    # A fair start (shared.contracts.fair_start): purchases from the room's opening until
    # fair_window_seconds after the start are drawn in a random order.
    waiting_room_opens_at: datetime | None = None
    fair_window_seconds: int = Field(default=0, ge=0, le=MAX_FAIR_WINDOW_SECONDS)
    pow_difficulty: int = Field(default=0, ge=0, le=MAX_POW_DIFFICULTY)

    @model_validator(mode="after")
    def _window(self) -> NewSale:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone offset (RFC 3339)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        # Inside what Postgres and epoch milliseconds both hold, whatever the offset.
        if self.starts_at < _EARLIEST or self.ends_at > _LATEST:
            raise ValueError("times must lie between 1970-01-01 and 9999-01-01 (UTC)")
        opens = self.waiting_room_opens_at
        if opens is not None:
            if opens.tzinfo is None:
                raise ValueError("waiting_room_opens_at needs a time zone offset (RFC 3339)")
            if not _EARLIEST < opens < self.starts_at:
                raise ValueError("waiting_room_opens_at must be before starts_at (and after 1970)")
        if self.starts_at + timedelta(seconds=self.fair_window_seconds) >= self.ends_at:
            raise ValueError("the fair window must end before ends_at")
        return self


def sale_terms(sale: NewSale, product: ProductView) -> SaleTerms:
    """The terms of a complete sale (price and payment window filled in)."""
    assert sale.price is not None
    assert sale.payment_window_seconds is not None
    opens = sale.waiting_room_opens_at
    return SaleTerms(
        product=product,
        price=sale.price,
        payment_window_ms=1000 * sale.payment_window_seconds,
        waitlist_size=sale.waitlist_size,
        waiting_room_opens_ms=datetime_to_ms(opens) if opens else 0,
        fair_window_ms=1000 * sale.fair_window_seconds,
        pow_difficulty=sale.pow_difficulty,
    )


class SaleRequest(NewSale):
    """An admin's request to create a sale: what it sells is required."""

    product_id: UUID


class StockTopUp(BaseModel):
    """An admin's request to add units to a sale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add: int = Field(ge=1, le=1_000_000_000)
