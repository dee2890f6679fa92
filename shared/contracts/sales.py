"""The public sale object and how its state follows from the clock and the counters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

SaleState = Literal["scheduled", "active", "sold_out", "ended"]


def sale_state(*, now_ms: int, starts_at_ms: int, ends_at_ms: int, remaining: int) -> SaleState:
    """State of a sale at ``now_ms``; an ended window wins over stock."""
    if now_ms >= ends_at_ms:
        return "ended"
    if now_ms < starts_at_ms:
        return "scheduled"
    if remaining <= 0:
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
    ) -> SaleView:
        return cls(
            sale_id=sale_id,
            name=name,
            stock=stock,
            remaining=remaining,
            starts_at=ms_to_datetime(starts_at_ms),
            ends_at=ms_to_datetime(ends_at_ms),
            per_user_limit=per_user_limit,
            state=sale_state(
                now_ms=now_ms, starts_at_ms=starts_at_ms, ends_at_ms=ends_at_ms, remaining=remaining
            ),
        )

    @classmethod
    def from_hash(cls, sale_id: UUID, fields: dict[str, str], *, now_ms: int) -> SaleView:
        """Build the view from a Redis sale hash (see shared.contracts.redis_layout.SALE_FIELDS)."""
        return cls.of(
            sale_id,
            name=fields["name"],
            stock=int(fields["stock"]),
            remaining=int(fields["remaining"]),
            starts_at_ms=int(fields["starts_at_ms"]),
            ends_at_ms=int(fields["ends_at_ms"]),
            per_user_limit=int(fields["per_user_limit"]),
            now_ms=now_ms,
        )
