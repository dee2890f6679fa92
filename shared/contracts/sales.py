"""The public sale object and how its state follows from the clock and the counters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.products import Money, ProductView
from shared.contracts.redis_layout import SaleField, on_waitlist

SaleState = Literal["scheduled", "active", "sold_out", "ended"]


def sale_state(
    *,
    now_ms: int,
    starts_at_ms: int,
    ends_at_ms: int,
    remaining: int,
    waitlist_free: int = 0,
) -> SaleState:
    """State of a sale at ``now_ms``; an ended window wins over stock. With no unit left a
    sale stays active while its waitlist has room: a buyer can still join the line."""
    if now_ms >= ends_at_ms:
        return "ended"
    if now_ms < starts_at_ms:
        return "scheduled"
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
    ) -> SaleView:
        free = terms.waitlist_size if waitlist_free is None else waitlist_free
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
            ),
            product=terms.product,
            price=terms.price,
            payment_window_seconds=terms.payment_window_ms // 1000,
            waitlist_size=terms.waitlist_size,
            waitlisted=waitlisted,
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
        )


class SaleTerms(BaseModel):
    """What a sale sells and on what terms; fixed when the sale is created."""

    model_config = ConfigDict(frozen=True)

    product: ProductView
    price: Money
    payment_window_ms: int
    waitlist_size: int

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
        )
