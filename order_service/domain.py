"""What an outcome becomes when persisted; pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.contracts.messages import Event, PurchaseAccepted, PurchaseRejected
from shared.contracts.sales import ms_to_datetime

# Order ids are derived from ticket ids, so a redelivered decision maps to the same order
# and persisting is idempotent without a read.
_ORDER_NAMESPACE = uuid.UUID("5b0c3f4e-2a7d-4c1b-9a55-0f6e1d2c3b4a")


_RELEASE_NAMESPACE = uuid.UUID("8e3f51c2-7d4a-4b6e-9c0d-1a2b3c4d5e6f")

OrderStatus = Literal["awaiting_payment", "paid", "expired", "refunded"]


def order_id_for(ticket_id: UUID) -> UUID:
    return uuid.uuid5(_ORDER_NAMESPACE, str(ticket_id))


def release_command_id(order_id: UUID) -> UUID:
    """The one release command of an order: however often it is sent, the decider gives the
    unit back once."""
    return uuid.uuid5(_RELEASE_NAMESPACE, str(order_id))


@dataclass(frozen=True)
class Terms:
    """What the buyer of an accepted ticket pays, and by when."""

    product_id: UUID
    price_amount: int
    currency: str
    pay_by: datetime | None  # None: an order of a build without payments, complete at once


@dataclass(frozen=True)
class Outcome:
    """The final state of one ticket, as persisted and shown to its owner."""

    ticket_id: UUID
    sale_id: UUID
    user_id: UUID
    status: str  # "confirmed" | "rejected"
    reason: str | None
    order_id: UUID | None
    decided_at: datetime
    requested_at: datetime | None = None
    terms: Terms | None = None  # for a confirmed ticket: its order's


def outcomes_of(events: list[Event]) -> list[Outcome]:
    """Final outcomes of the purchase events, one per ticket (later duplicates dropped)."""
    seen: dict[UUID, Outcome] = {}
    for event in events:
        if not isinstance(event, PurchaseAccepted | PurchaseRejected) or event.ticket_id in seen:
            continue
        accepted = isinstance(event, PurchaseAccepted)
        seen[event.ticket_id] = Outcome(
            ticket_id=event.ticket_id,
            sale_id=event.sale_id,
            user_id=event.user_id,
            status="confirmed" if accepted else "rejected",
            reason=None if isinstance(event, PurchaseAccepted) else event.reason,
            order_id=order_id_for(event.ticket_id) if accepted else None,
            decided_at=ms_to_datetime(event.decided_at_ms),
            requested_at=(
                None if event.requested_at_ms is None else ms_to_datetime(event.requested_at_ms)
            ),
            terms=_terms(event) if isinstance(event, PurchaseAccepted) else None,
        )
    return list(seen.values())


def _terms(event: PurchaseAccepted) -> Terms:
    if event.pay_by_ms is None or event.price_amount is None or event.currency is None:
        # Decided by a build without payments: its sales' products have the sale's id.
        return Terms(event.product_id or event.sale_id, 0, "USD", None)
    return Terms(
        product_id=event.product_id or event.sale_id,
        price_amount=event.price_amount,
        currency=event.currency,
        pay_by=ms_to_datetime(event.pay_by_ms),
    )


def order_status_of(terms: Terms) -> OrderStatus:
    """The status an order starts in."""
    return "paid" if terms.pay_by is None else "awaiting_payment"


SuccessOutcome = Literal["paid", "expire_and_refund", "refund"]


def settle_success(status: str, pay_by: datetime | None, now: datetime) -> SuccessOutcome:
    """What a confirmed charge does to its order: the one place where paid and expired race.

    Called under the order's row lock with the database's clock, as the expiry sweep is, so
    exactly one of them moves an unpaid order on: before ``pay_by`` the payment wins; from
    ``pay_by`` on the order expires (here, if the sweep has not got to it yet) and the money
    goes back; an order already expired, refunded or paid by another charge is refunded.
    """
    if status == "awaiting_payment":
        if pay_by is None or now < pay_by:
            return "paid"
        return "expire_and_refund"
    return "refund"
