"""Purchase rules the gateway applies before a ticket exists; pure."""

from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.errors import BadRequest, Conflict
from shared.sales import SaleView

TicketStatus = Literal["queued", "accepted", "confirmed", "rejected"]

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


class PurchaseRequest(BaseModel):
    """The purchase body: empty today; unknown fields are a client error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TicketView(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: UUID
    sale_id: UUID
    status: TicketStatus
    reason: str | None = None
    order_id: UUID | None = None


def ensure_purchasable(sale: SaleView) -> None:
    """Refuse at once what the decider could only reject: a sale outside its window."""
    if sale.state in ("scheduled", "ended"):
        when = "has not started" if sale.state == "scheduled" else "has ended"
        raise Conflict(f"the sale {when}", code="sale_not_active")


def idempotency_key(header: str | None) -> str | None:
    """The validated Idempotency-Key header, if any."""
    if header is None:
        return None
    if not _IDEMPOTENCY_KEY.match(header):
        raise BadRequest(
            "Idempotency-Key must be 1-128 visible ASCII characters",
            code="invalid_idempotency_key",
        )
    return header
