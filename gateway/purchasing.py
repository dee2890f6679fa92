"""The purchase use case: from a buyer's request to a ticket confirmed by the broker."""

from __future__ import annotations

import uuid
from uuid import UUID

from gateway.domain import TicketView, ensure_purchasable
from gateway.publisher import IntentPublisher
from gateway.sales import SaleCatalog
from gateway.tickets import TicketStore
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.messages import PlacePurchase
from shared.sales import now_ms


async def place_purchase(
    *,
    catalog: SaleCatalog,
    tickets: TicketStore,
    publisher: IntentPublisher,
    user_id: UUID,
    sale_id: UUID,
    idempotency_key: str | None,
) -> TicketView:
    """A new queued ticket, or the one an earlier request with the same key got."""
    sale = await catalog.get(sale_id)
    if sale is None:
        raise NotFound("no such sale")
    if idempotency_key is not None:
        # Before the window check: a retry after the sale ended still gets its ticket.
        earlier = await tickets.claimed_key(user_id, sale_id, idempotency_key)
        if earlier is not None:
            return await _earlier_ticket(tickets, user_id, earlier)
    ensure_purchasable(sale)
    ticket_id = uuid.uuid4()
    if idempotency_key is not None:
        earlier = await tickets.claim_key(user_id, sale_id, idempotency_key, ticket_id)
        if earlier is not None:  # a concurrent request with the same key won the claim
            return await _earlier_ticket(tickets, user_id, earlier)
    purchase = PlacePurchase(
        ticket_id=ticket_id, sale_id=sale_id, user_id=user_id, requested_at_ms=now_ms()
    )
    try:
        await publisher.submit(purchase)
    except ServiceUnavailable:
        if idempotency_key is not None:
            await tickets.release_key(user_id, sale_id, idempotency_key)
        raise
    if idempotency_key is not None:
        await tickets.confirm_key(user_id, sale_id, idempotency_key, ticket_id)
    return TicketView(ticket_id=ticket_id, sale_id=sale_id, status="queued")


async def _earlier_ticket(tickets: TicketStore, user_id: UUID, claimed: str) -> TicketView:
    if tickets.is_pending(claimed):
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            code="request_in_progress",
            headers={"Retry-After": "1"},
        )
    ticket = await tickets.get(UUID(claimed), user_id)
    if ticket is None:  # the record expired before the key did
        raise NotFound("the ticket of this Idempotency-Key is gone")
    return ticket
