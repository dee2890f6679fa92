"""The purchase use case: from a buyer's request to a ticket confirmed by the broker."""

from __future__ import annotations

import uuid
from uuid import UUID

from gateway.adapters.amqp_intents import IntentPublisher
from gateway.adapters.redis_sales import SaleCache
from gateway.adapters.redis_tickets import Tickets
from gateway.domain import AdmissionLimits, admit, ensure_purchasable
from shared.contracts.errors import Conflict, NotFound, ServiceUnavailable
from shared.contracts.messages import PlacePurchase
from shared.contracts.sales import now_ms
from shared.contracts.topology import Names


class Purchases:
    """Turns purchase requests into queued tickets; built once by the composition root."""

    def __init__(
        self,
        *,
        sales: SaleCache,
        tickets: Tickets,
        publisher: IntentPublisher,
        names: Names,
        limits: AdmissionLimits,
    ) -> None:
        self._sales = sales
        self._tickets = tickets
        self._publisher = publisher
        self._names = names
        self._limits = limits
        self._partitions: dict[UUID, int] = {}  # sale -> partition, computed once per sale

    async def place(
        self, user_id: UUID, sale_id: UUID, idempotency_key: str | None
    ) -> tuple[str, str]:
        """(ticket id, status): a new queued ticket, or the one an earlier request with the
        same key got."""
        sale = await self._sales.get(sale_id)
        if sale is None:
            raise NotFound("no such sale")
        if idempotency_key is not None:
            # Before the other checks: a retry after the sale ended still gets its ticket.
            earlier = await self._tickets.store.claimed_key(user_id, sale_id, idempotency_key)
            if earlier is not None:
                return await self._earlier_ticket(user_id, earlier)
        # Refused here without enqueueing: outside the window, sold out, or a line that
        # already holds more than it can serve.
        ensure_purchasable(sale.state())
        partition = self._partition(sale_id)
        admit(
            remaining=sale.remaining,
            waiting_for_sale=sale.waiting,
            waiting_in_partition=sum(
                s.waiting for s in self._sales.known() if self._partition(s.sale_id) == partition
            ),
            limits=self._limits,
        )
        ticket_id = uuid.uuid4()
        if idempotency_key is not None:
            earlier = await self._tickets.store.claim_key(
                user_id, sale_id, idempotency_key, ticket_id
            )
            if earlier is not None:  # a concurrent request with the same key won the claim
                return await self._earlier_ticket(user_id, earlier)
        # Constructed, not validated: every field comes from this process, already typed.
        purchase = PlacePurchase.model_construct(
            ticket_id=ticket_id, sale_id=sale_id, user_id=user_id, requested_at_ms=now_ms()
        )
        try:
            await self._publisher.submit(purchase)
        except ServiceUnavailable:
            if idempotency_key is not None:
                await self._tickets.store.release_key(user_id, sale_id, idempotency_key)
            raise
        if idempotency_key is not None:
            await self._tickets.store.confirm_key(user_id, sale_id, idempotency_key, ticket_id)
        return str(ticket_id), "queued"

    def _partition(self, sale_id: UUID) -> int:
        partition = self._partitions.get(sale_id)
        if partition is None:
            partition = self._partitions[sale_id] = self._names.partition_of(sale_id)
        return partition

    async def _earlier_ticket(self, user_id: UUID, claimed: str) -> tuple[str, str]:
        if self._tickets.store.is_pending(claimed):
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                code="request_in_progress",
                headers={"Retry-After": "1"},
            )
        ticket = await self._tickets.get(claimed, str(user_id))
        if ticket is None:  # the record expired before the key did
            raise NotFound("the ticket of this Idempotency-Key is gone")
        return claimed, ticket.status
