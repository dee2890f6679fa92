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

from shared.contracts.fair_start import (
    MAX_FAIR_WINDOW_SECONDS,
    MAX_POW_DIFFICULTY,
    FairStart,
    draw_order,
)
from shared.contracts.messages import (
    AddStock,
    CloseWaitlist,
    Command,
    DrawWaitingRoom,
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
    fair: FairStart | None = None
    room: list[tuple[UUID, UUID, int]] = field(default_factory=list)  # (ticket, user, at)
    room_buyers: dict[UUID, UUID] = field(default_factory=dict)  # user -> their room ticket
    drawn_at_ms: int = 0
    draw_seed: str | None = None

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
class InWaitingRoom:
    """A purchase of a fair start's waiting room: decided at the draw, not now."""

    ticket_id: UUID


@dataclass(frozen=True)
class DrawnTicket:
    """A waiting room's ticket, at its drawn place (from 1), and what it got there."""

    ticket_id: UUID
    user_id: UUID
    requested_at_ms: int
    position: int
    decision: Accepted | Rejected | Waitlisted


@dataclass(frozen=True)
class RoomDrawn:
    """The waiting room entered the line: its tickets in drawn order, and the seed that
    ordered them (shared.contracts.fair_start.draw_order)."""

    command_id: UUID
    seed: str
    drawn_at_ms: int
    tickets: tuple[DrawnTicket, ...]


@dataclass(frozen=True)
class UnknownSale:
    """The command names a sale the decider does not know: a poison item."""

    sale_id: UUID


Decision = (
    Accepted
    | Rejected
    | Waitlisted
    | StockIncreased
    | Released
    | WaitlistClosed
    | InWaitingRoom
    | RoomDrawn
    | UnknownSale
)
PurchaseDecision = Accepted | Rejected | Waitlisted


class DrawFirst(Exception):
    """A purchase after a fair window reached the decider before its room was drawn: the
    caller puts the draw in front of it (the room goes first)."""


def enter_room(sale: SaleCounters, intent: PlacePurchase) -> InWaitingRoom | Rejected | None:
    """A purchase of a fair start before its draw: into the room (one ticket per buyer; a
    second is refused), or None if it is not the room's (no fair start, or drawn)."""
    fair = sale.fair
    if fair is None or not fair.enabled or sale.drawn_at_ms:
        return None
    if intent.requested_at_ms >= fair.draw_at_ms:
        raise DrawFirst(str(intent.sale_id))
    if not fair.in_room(intent.requested_at_ms):
        return None  # before the room opened: refused as before the start
    holder = sale.room_buyers.setdefault(intent.user_id, intent.ticket_id)
    if holder != intent.ticket_id:
        sale.rejected += 1
        return Rejected(intent.ticket_id, "limit_reached")
    sale.room.append((intent.ticket_id, intent.user_id, intent.requested_at_ms))
    return InWaitingRoom(intent.ticket_id)


def as_of_start(sale: SaleCounters, intent: PlacePurchase) -> PlacePurchase:
    """A purchase made in a waiting room counts as made at the start (decided in the draw,
    or, reaching the decider after it, in line)."""
    fair = sale.fair
    if fair is None or not fair.in_room(intent.requested_at_ms):
        return intent
    at = max(intent.requested_at_ms, sale.starts_at_ms)
    return intent.model_copy(update={"requested_at_ms": at})


def draw_room(sale: SaleCounters, command: DrawWaitingRoom, seed: str) -> RoomDrawn:
    """Put the room in line in the order ``seed`` draws (shared.contracts.fair_start), each
    ticket decided at its place like a purchase made at the start."""
    sale.drawn_at_ms = command.requested_at_ms
    sale.draw_seed = seed
    drawn = []
    room = [(str(ticket), (ticket, user, at)) for ticket, user, at in sale.room]
    for position, (_, (ticket, user, at)) in enumerate(draw_order(seed, room), start=1):
        purchase = PlacePurchase(
            ticket_id=ticket, sale_id=command.sale_id, user_id=user, requested_at_ms=at
        )
        decision = decide_purchase(sale, as_of_start(sale, purchase))
        drawn.append(DrawnTicket(ticket, user, at, position, decision))
    return RoomDrawn(command.command_id, seed, sale.drawn_at_ms, tuple(drawn))


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
    *,
    seed: str = "",
) -> list[Decision]:
    """Decide ``commands`` in order; a key already in ``decided`` gets its earlier outcome.
    A waiting room is drawn with ``seed``."""
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
            decision = enter_room(sale, command) or decide_purchase(
                sale, as_of_start(sale, command)
            )
        elif isinstance(command, AddStock):
            decision = add_stock(sale, command)
        elif isinstance(command, ReleaseUnit):
            decision = release_unit(sale, command)
        elif isinstance(command, DrawWaitingRoom):
            decision = draw_room(sale, command, seed)
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
