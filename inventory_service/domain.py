"""The decision rules, pure: what a purchase intent gets, given the sale and the buyer.

This is the specification the Redis script (``decide.lua``) implements atomically; the
integration tests run both on the same sequences and require the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.messages import AddStock, Command, PlacePurchase, RejectReason


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


@dataclass(frozen=True)
class Accepted:
    ticket_id: UUID


@dataclass(frozen=True)
class Rejected:
    ticket_id: UUID
    reason: RejectReason


@dataclass(frozen=True)
class StockIncreased:
    command_id: UUID
    stock: int
    remaining: int


@dataclass(frozen=True)
class UnknownSale:
    """The command names a sale the decider does not know: a poison item."""

    sale_id: UUID


Decision = Accepted | Rejected | StockIncreased | UnknownSale


def decide_purchase(sale: SaleCounters, intent: PlacePurchase) -> Accepted | Rejected:
    """Decide one purchase and apply it to ``sale``: window, then stock, then the user's limit."""
    if not sale.starts_at_ms <= intent.requested_at_ms < sale.ends_at_ms:
        decision: Accepted | Rejected = Rejected(intent.ticket_id, "sale_not_active")
    elif sale.remaining <= 0:
        decision = Rejected(intent.ticket_id, "sold_out")
    elif sale.buyers.get(intent.user_id, 0) >= sale.per_user_limit:
        decision = Rejected(intent.ticket_id, "limit_reached")
    else:
        sale.remaining -= 1
        sale.accepted += 1
        sale.buyers[intent.user_id] = sale.buyers.get(intent.user_id, 0) + 1
        return Accepted(intent.ticket_id)
    sale.rejected += 1
    return decision


def add_stock(sale: SaleCounters, command: AddStock) -> StockIncreased:
    sale.stock += command.quantity
    sale.remaining += command.quantity
    return StockIncreased(command.command_id, sale.stock, sale.remaining)


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
        else:
            decision = add_stock(sale, command)
        if not isinstance(decision, UnknownSale):
            decided[key] = decision
        out.append(decision)
    return out


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class NewSale(BaseModel):
    """An admin's request to create a sale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # No NUL: Postgres text cannot hold it.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    stock: int = Field(ge=1, le=1_000_000_000)
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _window(self) -> NewSale:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone offset (RFC 3339)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        # Inside what Postgres and epoch milliseconds both hold, whatever the offset.
        if self.starts_at < _EARLIEST or self.ends_at > _LATEST:
            raise ValueError("times must lie between 1970-01-01 and 9999-01-01 (UTC)")
        return self


class StockTopUp(BaseModel):
    """An admin's request to add units to a sale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add: int = Field(ge=1, le=1_000_000_000)
