"""Tickets this gateway knows, in memory: polls are answered without a Redis round trip.

A poll is the most frequent request a buyer makes. The gateway records every ticket it
issues here, and applies the status changes that the decider (accepted) and the order
service (confirmed / rejected) publish per batch on the ticket-updates channel. A final
ticket never changes again, so it is served from memory for as long as it stays in the
(bounded, least-recently-used) board; a ticket still in line that has not been confirmed
from the source for ``stale_after`` seconds is re-read from Redis, in case an update was
published while this gateway was not subscribed. A decided ticket can still change its
order's status (paid, expired, ...): those changes arrive on the same channel, and after a
gap in the subscription (:meth:`resubscribed`) every ticket is re-read once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict

from gateway.domain import Ticket
from shared.contracts.redis_layout import moves_forward, order_moves_forward


class TicketBoard:
    def __init__(self, *, max_entries: int = 200_000, stale_after: float = 2.0) -> None:
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._max_entries = max_entries
        self._stale_after = stale_after
        self._watchers: dict[str, set[asyncio.Event]] = {}
        # When the current subscription to ticket updates began: a ticket last vouched for
        # before it may have missed an update.
        self._subscribed_at = 0.0

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

    def issued(self, ticket_id: str, user_id: str, sale_id: str, status: str = "queued") -> Ticket:
        """A ticket this gateway is queueing, or putting in a waiting room (before its intent
        can be decided)."""
        ticket = Ticket(user_id, sale_id, status)
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

    def resubscribed(self) -> None:
        """Updates are followed again after a gap: what memory holds is re-read once."""
        self._subscribed_at = time.monotonic()

    def fresh(self, ticket_id: str) -> Ticket | None:
        """The ticket if memory can answer for it: decided, or recently vouched for, and not
        last vouched for before a gap in the updates."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.checked_at < self._subscribed_at:
            return None
        if not ticket.decided and time.monotonic() - ticket.checked_at > self._stale_after:
            return None
        self._tickets.move_to_end(ticket_id)
        return ticket

    def apply_updates(self, payload: str) -> list[tuple[str, Ticket]]:
        """Apply a ticket-updates message; return the tickets that changed."""
        changed = []
        now = time.monotonic()
        for ticket_id, status, reason, order_id, *more in json.loads(payload):
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                continue
            # [ticket, status, reason, order, order status, waitlist seq, drawn position];
            # older publishers send the first four or six.
            order_status = more[0] if more else ""
            # Only forward: a late "accepted" must not pull back a final ticket.
            advances = moves_forward(ticket.status, status)
            shows_order = bool(order_status) and order_moves_forward(
                ticket.order_status, order_status
            )
            # A waiting room's draw tells each ticket its place before (or with) its decision.
            drawn = int(more[2]) if len(more) > 2 and more[2] else 0
            shows_draw = drawn > 0 and ticket.drawn_position != drawn
            if not advances and not shows_order and not shows_draw:
                continue
            if shows_draw:
                ticket.drawn_position = drawn
            if advances:
                ticket.status = status
                ticket.reason = reason or None
                ticket.order_id = order_id or ticket.order_id
                if len(more) > 1 and more[1]:
                    ticket.waitlist_seq = int(more[1])
            if shows_order:
                ticket.order_id = order_id or ticket.order_id
                ticket.order_status = order_status
            ticket.checked_at = now
            changed.append((ticket_id, ticket))
            for event in self._watchers.get(ticket_id, ()):
                event.set()
        return changed
