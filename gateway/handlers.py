"""The gateway's use cases: place a purchase (a request becomes a ticket confirmed by the
broker), and show a ticket. Dependencies are passed in (ports.py)."""

from __future__ import annotations

import contextlib
import logging
from uuid import UUID

from gateway.batching import MicroBatcher
from gateway.domain import AdmissionLimits, Earlier, Intent, Ticket, admit, ensure_purchasable
from gateway.ports import (
    IdempotencyKeys,
    IntentQueue,
    ProofOfWork,
    SaleCatalog,
    TicketRecords,
)
from gateway.ticket_ids import new_ticket_id
from shared.contracts.errors import Conflict, NotFound, ServiceUnavailable
from shared.contracts.sales import now_ms
from shared.contracts.topology import Names
from shared.runtime import request_ids
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


# An intent and the id of the request that made it (for its message's headers).
_Queued = tuple[Intent, str | None]
# Batches go by partition and by the status their tickets start in: "queued", or
# "waiting_room" for a sale's fair start (shared.contracts.fair_start).
_BatchKey = tuple[int, str]


class Purchases:
    """Turns purchase requests into queued tickets; built once by the composition root.

    A request is answered 202 only once the broker confirmed its intent. Purchases of the
    same partition that arrive together are queued as one batch: one call records their
    tickets, one confirmed message carries their intents (see gateway.batching).
    """

    def __init__(
        self,
        *,
        sales: SaleCatalog,
        tickets: TicketRecords,
        intents: IntentQueue,
        idempotency: IdempotencyKeys,
        names: Names,
        limits: AdmissionLimits,
        linger: float,
        max_batch: int,
        proof: ProofOfWork | None = None,
    ) -> None:
        self._sales = sales
        self._tickets = tickets
        self._intents = intents
        self._idempotency = idempotency
        self._names = names
        self._limits = limits
        self._proof = proof
        # sale -> (partition, id as a string), computed once per sale
        self._lines: dict[UUID, tuple[int, str]] = {}
        self._batcher: MicroBatcher[_BatchKey, _Queued] = MicroBatcher(
            self._queue_batch, linger=linger, max_batch=max_batch
        )

    async def place(
        self,
        user_id: UUID,
        sale_id: UUID,
        idempotency_key: str | None,
        pow_solution: str | None = None,
    ) -> tuple[str, str]:
        """(ticket id, status): a new ticket, queued or in the sale's waiting room, or the one
        an earlier request with the same key got."""
        sale = await self._sales.get(sale_id)
        if sale is None:
            raise NotFound("no such sale")
        key = self._idempotency.for_request(user_id, sale_id, idempotency_key)
        # Most purchases carry no key: their claim does nothing, and its three awaits (each a
        # coroutine) are skipped rather than paid for nothing.
        keyed = idempotency_key is not None
        # Before the other checks: a retry after the sale ended still gets its ticket.
        earlier = await key.earlier() if keyed else None
        if earlier is not None:
            return await self._earlier_ticket(user_id, earlier)
        # Refused here without enqueueing: outside the window, sold out, or a line that
        # already holds more than it can serve.
        now = now_ms()
        ensure_purchasable(sale.state(now))
        if sale.terms.pow_difficulty and self._proof is not None:
            await self._proof.verify(user_id, sale_id, sale.terms.pow_difficulty, pow_solution)
        partition, sale_text = self._line(sale_id)
        # A fair start's waiting room takes everyone: its order is drawn, so it is not a line
        # that admission control could shorten.
        status = "waiting_room" if sale.fair_start.in_room(now) else "queued"
        if status == "queued":
            admit(
                remaining=sale.capacity,
                waiting_for_sale=sale.waiting,
                waiting_in_partition=sum(
                    s.waiting for s in self._sales.known() if self._line(s.sale_id)[0] == partition
                ),
                limits=self._limits,
            )
        ticket_id = new_ticket_id(sale_id)  # in its sale's Redis slot (redis_layout)
        earlier = await key.claim(ticket_id) if keyed else None
        if earlier is not None:  # a concurrent request with the same key won the claim
            return await self._earlier_ticket(user_id, earlier)
        user_text = str(user_id)
        intent = Intent(ticket_id, sale_text, user_text, now)
        try:
            if status == "waiting_room":
                await self._join_room(sale_text, user_text, ticket_id)
            await self._batcher.submit((partition, status), (intent, request_ids.current()))
        except BaseException as exc:
            await key.release()  # whatever failed, a repeat may try again
            if status == "waiting_room":
                # Best effort: what failed may be Redis itself, and its error is the answer.
                with contextlib.suppress(*DEPENDENCY_ERRORS):
                    await self._tickets.leave_room(sale_text, user_text, ticket_id)
            if isinstance(exc, DEPENDENCY_ERRORS):
                raise ServiceUnavailable(
                    "the purchase could not be queued; retry shortly", retry_after=1
                ) from None
            raise
        if keyed:
            await key.confirm(ticket_id)
        return ticket_id, status

    async def _join_room(self, sale_id: str, user_id: str, ticket_id: str) -> None:
        """One ticket per buyer in a sale's waiting room: a second is refused (409)."""
        held = await self._tickets.join_room(sale_id, user_id, ticket_id)
        if held is not None:
            raise Conflict(
                f"you already hold ticket {held} in this sale's waiting room",
                code="already_in_waiting_room",
            )

    async def _queue_batch(self, batch_key: _BatchKey, batch: list[_Queued]) -> None:
        """Record the batch's tickets, then put its intents in line; undo the records if the
        broker does not take them."""
        partition, status = batch_key
        purchases = [intent for intent, _ in batch]
        ids = [request_id for _, request_id in batch]
        try:
            # The records exist before the intent can be decided, so the decider's
            # "accepted" always lands on a ticket the gateway already wrote.
            await self._tickets.issue(purchases, status)
            try:
                await self._intents.publish(partition, purchases, ids)
            except DEPENDENCY_ERRORS:
                await self._withdraw(purchases)
                raise
        except DEPENDENCY_ERRORS as exc:
            log.warning(
                "intent batch not queued",
                extra={
                    "partition": partition,
                    "size": len(batch),
                    "ticket_ids": [p.ticket_id for p in purchases],
                    "request_ids": request_ids.present(ids),
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            raise

    async def _withdraw(self, purchases: list[Intent]) -> None:
        try:
            await self._tickets.withdraw(purchases)
        except DEPENDENCY_ERRORS as exc:
            # Only admission control reads the count; it recovers as the line drains.
            log.warning("enqueued count not taken back", extra={"error": f"{exc!r}"})

    def _line(self, sale_id: UUID) -> tuple[int, str]:
        line = self._lines.get(sale_id)
        if line is None:
            line = self._lines[sale_id] = (self._names.partition_of(sale_id), str(sale_id))
        return line

    async def _earlier_ticket(self, user_id: UUID, earlier: Earlier) -> tuple[str, str]:
        if earlier.in_progress:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                code="request_in_progress",
                headers={"Retry-After": "1"},
            )
        ticket = await self._tickets.get(earlier.ticket_id, str(user_id))
        if ticket is None:  # the record expired before the key did
            raise NotFound("the ticket of this Idempotency-Key is gone")
        return earlier.ticket_id, ticket.status

    async def close(self) -> None:
        """Queue what is waiting for its batch, and wait for every batch in flight."""
        await self._batcher.close()


async def render_ticket(ticket_id: str, ticket: Ticket, *, sales: SaleCatalog) -> bytes:
    """The API's ticket object; a queued ticket's position comes from its sale's count of
    decisions, a waitlisted one's from its waitlist's (what polls and streams both show)."""
    decided = served = 0
    if ticket.status in ("queued", "waitlisted"):
        sale = await sales.get(UUID(ticket.sale_id))
        if sale is not None:
            decided, served = sale.decided, sale.waitlist_served
    return ticket.to_json(ticket_id, decided, served)
