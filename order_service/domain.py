"""What an outcome becomes when persisted; pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.contracts.messages import Event, PurchaseAccepted, PurchaseRejected
from shared.contracts.sales import ms_to_datetime

# Order ids are derived from ticket ids, so a redelivered decision maps to the same order
# and persisting is idempotent without a read.
_ORDER_NAMESPACE = uuid.UUID("5b0c3f4e-2a7d-4c1b-9a55-0f6e1d2c3b4a")


def order_id_for(ticket_id: UUID) -> UUID:
    return uuid.uuid5(_ORDER_NAMESPACE, str(ticket_id))


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
        )
    return list(seen.values())
