"""Tickets this gateway knows, in memory: polls are answered without a Redis round trip.

A poll is the most frequent request a buyer makes. The gateway records every ticket it
issues here, and applies the status changes that the decider (accepted) and the order
service (confirmed / rejected) publish per batch on the ticket-updates channel. A final
ticket never changes again, so it is served from memory for as long as it stays in the
(bounded, least-recently-used) board; a ticket still in line that has not been confirmed
from the source for ``stale_after`` seconds is re-read from Redis, in case an update was
published while this gateway was not subscribed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass

from shared.contracts.redis_layout import FINAL_STATUSES, moves_forward


@dataclass(slots=True)
class Ticket:
    user_id: str
    sale_id: str
    status: str
    reason: str | None = None
    order_id: str | None = None
    seq: int = 0  # place in the sale's line, counted from the sale's first intent
    checked_at: float = 0.0  # monotonic time the source last vouched for this state

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def position(self, decided: int) -> int | None:
        """Approximate place in line while queued: intents ahead not yet decided, plus one."""
        if self.status != "queued" or not self.seq:
            return None
        return max(1, self.seq - decided)

    def to_json(self, ticket_id: str, decided: int = 0) -> bytes:
        """The ticket object of the API (see gateway.domain.TicketView); ``decided`` is the
        number of decisions its sale has taken, for the position."""
        return (
            f'{{"ticket_id":"{ticket_id}","sale_id":"{self.sale_id}","status":"{self.status}",'
            f'"reason":{json.dumps(self.reason)},"order_id":{json.dumps(self.order_id)},'
            f'"position":{json.dumps(self.position(decided))}}}'
        ).encode()


class TicketBoard:
    def __init__(self, *, max_entries: int = 200_000, stale_after: float = 2.0) -> None:
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._max_entries = max_entries
        self._stale_after = stale_after
        self._watchers: dict[str, set[asyncio.Event]] = {}

    @property
    def stale_after(self) -> float:
        return self._stale_after

    def watch(self, ticket_id: str) -> asyncio.Event:
        """An event set whenever an update for this ticket lands (ticket streams wait on it)."""
        event = asyncio.Event()
        self._watchers.setdefault(ticket_id, set()).add(event)
        return event

    def unwatch(self, ticket_id: str, event: asyncio.Event) -> None:
        watchers = self._watchers.get(ticket_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[ticket_id]

    def __len__(self) -> int:
        return len(self._tickets)

    def issued(self, ticket_id: str, user_id: str, sale_id: str) -> Ticket:
        """A ticket this gateway is queueing (before its intent can be decided)."""
        ticket = Ticket(user_id, sale_id, "queued")
        self.remember(ticket_id, ticket)
        return ticket

    def forget(self, ticket_id: str) -> None:
        self._tickets.pop(ticket_id, None)

    def remember(self, ticket_id: str, ticket: Ticket) -> None:
        ticket.checked_at = time.monotonic()
        self._tickets[ticket_id] = ticket
        self._tickets.move_to_end(ticket_id)
        while len(self._tickets) > self._max_entries:
            self._tickets.popitem(last=False)

    def fresh(self, ticket_id: str) -> Ticket | None:
        """The ticket if memory can answer for it: final, or recently vouched for."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            return None
        if not ticket.final and time.monotonic() - ticket.checked_at > self._stale_after:
            return None
        self._tickets.move_to_end(ticket_id)
        return ticket

    def apply_updates(self, payload: str) -> list[tuple[str, Ticket]]:
        """Apply a ticket-updates message; return the tickets that changed."""
        changed = []
        now = time.monotonic()
        for ticket_id, status, reason, order_id in json.loads(payload):
            ticket = self._tickets.get(ticket_id)
            # Only forward: a late "accepted" must not pull back a final ticket.
            if ticket is None or not moves_forward(ticket.status, status):
                continue
            ticket.status = status
            ticket.reason = reason or None
            ticket.order_id = order_id or None
            ticket.checked_at = now
            changed.append((ticket_id, ticket))
            for event in self._watchers.get(ticket_id, ()):
                event.set()
        return changed
