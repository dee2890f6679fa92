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

import json
import time
from collections import OrderedDict
from dataclasses import dataclass

FINAL = frozenset({"confirmed", "rejected"})
_RANK = {"queued": 0, "accepted": 1, "confirmed": 2, "rejected": 2}


@dataclass(slots=True)
class Ticket:
    user_id: str
    sale_id: str
    status: str
    reason: str | None = None
    order_id: str | None = None
    checked_at: float = 0.0  # monotonic time the source last vouched for this state

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def to_json(self, ticket_id: str) -> bytes:
        """The ticket object of the API (see gateway.domain.TicketView)."""
        return (
            f'{{"ticket_id":"{ticket_id}","sale_id":"{self.sale_id}","status":"{self.status}",'
            f'"reason":{json.dumps(self.reason)},"order_id":{json.dumps(self.order_id)}}}'
        ).encode()


class TicketBoard:
    def __init__(self, *, max_entries: int = 200_000, stale_after: float = 2.0) -> None:
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._max_entries = max_entries
        self._stale_after = stale_after

    def __len__(self) -> int:
        return len(self._tickets)

    def issued(self, ticket_id: str, user_id: str, sale_id: str) -> None:
        """A ticket this gateway is queueing (before its intent can be decided)."""
        self.remember(ticket_id, Ticket(user_id, sale_id, "queued"))

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
            if ticket is None or _RANK.get(status, -1) < _RANK[ticket.status]:
                continue
            ticket.status = status
            ticket.reason = reason or None
            ticket.order_id = order_id or None
            ticket.checked_at = now
            changed.append((ticket_id, ticket))
        return changed
