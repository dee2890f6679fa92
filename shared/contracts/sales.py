"""The public sale object and how its state follows from the clock and the counters."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.fair_start import FairStart
from shared.contracts.products import Money, ProductView
from shared.contracts.redis_layout import SaleField, on_waitlist

SaleState = Literal["scheduled", "waiting_room", "active", "sold_out", "ended"]


def sale_state(
    *,
    now_ms: int,
    starts_at_ms: int,
    ends_at_ms: int,
    remaining: int,
    waitlist_free: int = 0,
    room_opens_ms: int = 0,
) -> SaleState:
    """State of a sale at ``now_ms``; an ended window wins over stock. With no unit left a
    sale stays active while its waitlist has room: a buyer can still join the line. Before
    the start, a sale whose waiting room has opened (``room_opens_ms``) takes purchases."""
    if now_ms >= ends_at_ms:
        return "ended"
    if now_ms < starts_at_ms:
        return "waiting_room" if 0 < room_opens_ms <= now_ms else "scheduled"
    if remaining <= 0 and waitlist_free <= 0:
        return "sold_out"
    return "active"


def now_ms() -> int:
    """Wall-clock milliseconds: sale windows are wall-clock times."""
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class SaleView(BaseModel):
    """The sale object of the HTTP API."""

    model_config = ConfigDict(frozen=True)

    sale_id: UUID
    name: str
    stock: int
    remaining: int
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int
    state: SaleState
    product: ProductView
    price: Money  # the sale price; the product's own price is the list price
    payment_window_seconds: int
    waitlist_size: int
    waitlisted: int  # buyers on the waitlist now
    # A fair start (shared.contracts.fair_start); the seed is shown once the room is drawn.
    waiting_room_opens_at: datetime | None = None
    fair_window_seconds: int = 0
    pow_difficulty: int = 0
    in_waiting_room: int = 0  # tickets waiting for the draw
    drawn_at: datetime | None = None
    draw_seed: str | None = None

    @classmethod
    def of(
        cls,
        sale_id: UUID,
        *,
        name: str,
        stock: int,
        remaining: int,
        starts_at_ms: int,
        ends_at_ms: int,
        per_user_limit: int,
        now_ms: int,
        terms: SaleTerms,
        waitlisted: int = 0,
        waitlist_free: int | None = None,
        room: RoomState | None = None,
    ) -> SaleView:
        free = terms.waitlist_size if waitlist_free is None else waitlist_free
        room = room or RoomState()
        return cls(
            sale_id=sale_id,
            name=name,
            stock=stock,
            remaining=remaining,
            starts_at=ms_to_datetime(starts_at_ms),
            ends_at=ms_to_datetime(ends_at_ms),
            per_user_limit=per_user_limit,
            state=sale_state(
                now_ms=now_ms,
                starts_at_ms=starts_at_ms,
                ends_at_ms=ends_at_ms,
                remaining=remaining,
                waitlist_free=free,
                room_opens_ms=terms.fair_start(starts_at_ms).room_opens_ms,
            ),
            product=terms.product,
            price=terms.price,
            payment_window_seconds=terms.payment_window_ms // 1000,
            waitlist_size=terms.waitlist_size,
            waitlisted=waitlisted,
            waiting_room_opens_at=(
                ms_to_datetime(terms.waiting_room_opens_ms) if terms.waiting_room_opens_ms else None
            ),
            fair_window_seconds=terms.fair_window_ms // 1000,
            pow_difficulty=terms.pow_difficulty,
            in_waiting_room=room.waiting,
            drawn_at=ms_to_datetime(room.drawn_at_ms) if room.drawn_at_ms else None,
            draw_seed=room.seed,
        )

    @classmethod
    def from_hash(cls, sale_id: UUID, fields: dict[str, str], *, now_ms: int) -> SaleView:
        """Build the view from a Redis sale hash (see shared.contracts.redis_layout.SaleField)."""
        terms = SaleTerms.from_hash(sale_id, fields)
        joined = int(fields.get(SaleField.WAITLISTED, 0))
        waiting = on_waitlist(
            joined,
            int(fields.get(SaleField.WAITLIST_SERVED, 0)),
            int(fields.get(SaleField.WAITLIST_DROPPED, 0)),
        )
        return cls.of(
            sale_id,
            name=fields["name"],
            stock=int(fields["stock"]),
            remaining=int(fields["remaining"]),
            starts_at_ms=int(fields["starts_at_ms"]),
            ends_at_ms=int(fields["ends_at_ms"]),
            per_user_limit=int(fields["per_user_limit"]),
            now_ms=now_ms,
            terms=terms,
            waitlisted=waiting,
            waitlist_free=max(0, terms.waitlist_size - joined),
            room=RoomState.from_hash(fields),
        )


@dataclass(frozen=True, slots=True)
class RoomState:
    """A sale's waiting room now: tickets put in it, and its draw (0 / None until drawn)."""

    entered: int = 0
    drawn_at_ms: int = 0
    seed: str | None = None

    @property
    def waiting(self) -> int:
        """Tickets in the room waiting for the draw."""
        return 0 if self.drawn_at_ms else self.entered

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> RoomState:
        return cls(
            entered=int(fields.get(SaleField.ROOM, 0)),
            drawn_at_ms=int(fields.get(SaleField.DRAWN_AT_MS, 0)),
            seed=fields.get(SaleField.DRAW_SEED) or None,
        )


class SaleTerms(BaseModel):
    """What a sale sells and on what terms; fixed when the sale is created."""

    model_config = ConfigDict(frozen=True)

    product: ProductView
    price: Money
    payment_window_ms: int
    waitlist_size: int
    waiting_room_opens_ms: int = 0  # 0: no waiting room before the start
    fair_window_ms: int = 0
    pow_difficulty: int = 0  # leading zero bits a purchase's proof of work needs; 0: none

    def fair_start(self, starts_at_ms: int) -> FairStart:
        return FairStart(starts_at_ms, self.waiting_room_opens_ms, self.fair_window_ms)

    @classmethod
    def from_hash(cls, sale_id: UUID, fields: dict[str, str]) -> SaleTerms:
        """The terms in a Redis sale hash. A hash written before sales had products (the
        inventory service completes those at start) reads as the product migration 0004
        made for it: the sale's own id and name, for nothing."""
        product_json = fields.get("product")
        if product_json is None:
            free = Money(amount=0, currency="USD")
            product = ProductView(
                product_id=sale_id, name=fields["name"], description=None, image_url=None,
                price=free,
            )  # fmt: skip
            return cls(product=product, price=free, payment_window_ms=600_000, waitlist_size=0)
        return cls(
            product=ProductView.model_validate_json(product_json),
            price=Money(amount=int(fields["price_amount"]), currency=fields["currency"]),
            payment_window_ms=int(fields["payment_window_ms"]),
            waitlist_size=int(fields.get("waitlist_size", 0)),
            waiting_room_opens_ms=int(fields.get(SaleField.WAITING_ROOM_OPENS_AT_MS, 0)),
            fair_window_ms=int(fields.get(SaleField.FAIR_WINDOW_MS, 0)),
            pow_difficulty=int(fields.get(SaleField.POW_DIFFICULTY, 0)),
        )
