"""Purchase rules the gateway applies before a ticket exists; pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.errors import BadRequest, Conflict, ServiceUnavailable
from shared.contracts.sales import SaleState

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
    # While queued: the approximate place in the sale's line (1 = next to be decided).
    position: int | None = None


def ensure_purchasable(state: SaleState) -> None:
    """Refuse at once what the decider could only reject: outside the window, or sold out."""
    if state in ("scheduled", "ended"):
        when = "has not started" if state == "scheduled" else "has ended"
        raise Conflict(f"the sale {when}", code="sale_not_active")
    if state == "sold_out":
        raise Conflict("the sale is sold out", code="sold_out")


@dataclass(frozen=True)
class AdmissionLimits:
    """How much waiting demand a gateway lets into the line (see admit)."""

    demand_factor: float
    demand_slack: int
    partition_max_waiting: int


def admit(
    *, remaining: int, waiting_for_sale: int, waiting_in_partition: int, limits: AdmissionLimits
) -> None:
    """Refuse work that can only end in a rejection, or that the line cannot take now.

    A partition holding too many undecided intents answers 503 (come back shortly); a sale
    whose waiting demand already far exceeds its stock answers 409: those ahead in line
    will take everything unless many of them drop out.
    """
    if waiting_in_partition >= limits.partition_max_waiting:
        raise ServiceUnavailable(
            "too many purchases are waiting to be decided; retry shortly",
            code="overloaded",
            retry_after=1,
        )
    if waiting_for_sale >= remaining * limits.demand_factor + limits.demand_slack:
        raise Conflict(
            "the buyers already in line want far more than the stock left",
            code="demand_exceeds_stock",
            headers={"Retry-After": "2"},
        )


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
