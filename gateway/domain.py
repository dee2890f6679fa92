"""The gateway's pure rules and values: purchase rules, the sales and tickets it knows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.errors import Conflict, ServiceUnavailable
from shared.contracts.fair_start import FairStart
from shared.contracts.redis_layout import (
    FINAL_STATUSES,
    SaleField,
    decisions_taken,
    on_waitlist,
)
from shared.contracts.sales import RoomState, SaleState, SaleTerms, SaleView, now_ms, sale_state

TicketStatus = Literal["waiting_room", "queued", "waitlisted", "accepted", "confirmed", "rejected"]
OrderStatus = Literal["awaiting_payment", "paid", "expired", "refunded"]


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
    # While queued: the approximate place in the sale's line (1 = next to be decided); while
    # waitlisted: the place on the waitlist (1 = the next released unit is theirs).
    position: int | None = None
    order_status: OrderStatus | None = None
    # A ticket of a sale's waiting room, once drawn: its place in the draw (1 = first).
    drawn_position: int | None = None


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


@dataclass(frozen=True)
class SaleSnapshot:
    sale_id: UUID
    name: str
    starts_at_ms: int
    ends_at_ms: int
    per_user_limit: int
    stock: int
    remaining: int
    accepted: int
    rejected: int
    enqueued: int
    version: int
    terms: SaleTerms
    waitlisted: int = 0  # buyers ever put on the waitlist
    waitlist_served: int = 0
    waitlist_dropped: int = 0
    room: RoomState = field(default_factory=RoomState)

    @classmethod
    def from_hash(cls, sale_id: UUID, fields: dict[str, str]) -> SaleSnapshot:
        return cls(
            sale_id=sale_id,
            name=fields[SaleField.NAME],
            starts_at_ms=int(fields[SaleField.STARTS_AT_MS]),
            ends_at_ms=int(fields[SaleField.ENDS_AT_MS]),
            per_user_limit=int(fields[SaleField.PER_USER_LIMIT]),
            stock=int(fields[SaleField.STOCK]),
            remaining=int(fields[SaleField.REMAINING]),
            accepted=int(fields.get(SaleField.ACCEPTED, 0)),
            rejected=int(fields.get(SaleField.REJECTED, 0)),
            enqueued=int(fields.get(SaleField.ENQUEUED, 0)),
            version=int(fields.get(SaleField.VERSION, 0)),
            terms=SaleTerms.from_hash(sale_id, fields),
            waitlisted=int(fields.get(SaleField.WAITLISTED, 0)),
            waitlist_served=int(fields.get(SaleField.WAITLIST_SERVED, 0)),
            waitlist_dropped=int(fields.get(SaleField.WAITLIST_DROPPED, 0)),
            room=RoomState.from_hash(fields),
        )

    @property
    def fair_start(self) -> FairStart:
        return self.terms.fair_start(self.starts_at_ms)

    @property
    def decided(self) -> int:
        """Intents decided (accepted, rejected or put on the waitlist)."""
        return decisions_taken(self.accepted, self.rejected, self.waitlisted, self.waitlist_dropped)

    @property
    def waiting(self) -> int:
        """Intents confirmed by the broker and not yet decided (approximate)."""
        return max(0, self.enqueued - self.decided)

    @property
    def waitlist_free(self) -> int:
        """Places left on the waitlist."""
        return max(0, self.terms.waitlist_size - self.waitlisted)

    @property
    def capacity(self) -> int:
        """Buyers the sale can still take: units left and places on the waitlist."""
        return self.remaining + self.waitlist_free

    def state(self, now: int | None = None) -> SaleState:
        return sale_state(
            now_ms=now_ms() if now is None else now,
            starts_at_ms=self.starts_at_ms,
            ends_at_ms=self.ends_at_ms,
            remaining=self.remaining,
            waitlist_free=self.waitlist_free,
            room_opens_ms=self.fair_start.room_opens_ms,
        )

    def view(self, now: int | None = None) -> SaleView:
        return SaleView.of(
            self.sale_id,
            name=self.name,
            stock=self.stock,
            remaining=self.remaining,
            starts_at_ms=self.starts_at_ms,
            ends_at_ms=self.ends_at_ms,
            per_user_limit=self.per_user_limit,
            now_ms=now_ms() if now is None else now,
            terms=self.terms,
            waitlisted=on_waitlist(self.waitlisted, self.waitlist_served, self.waitlist_dropped),
            waitlist_free=self.waitlist_free,
            room=self.room,
        )


@dataclass(slots=True)
class Ticket:
    user_id: str
    sale_id: str
    status: str
    reason: str | None = None
    order_id: str | None = None
    seq: int = 0  # place in the sale's line, counted from the sale's first intent
    checked_at: float = 0.0  # monotonic time the source last vouched for this state
    order_status: str | None = None
    waitlist_seq: int = 0  # place on the sale's waitlist, counted from its first
    drawn_position: int = 0  # place in its waiting room's draw, from 1; 0: not drawn

    @property
    def decided(self) -> bool:
        """Confirmed or rejected: its status will not change (its order's may)."""
        return self.status in FINAL_STATUSES

    @property
    def final(self) -> bool:
        """Nothing will change on it: rejected, or its order paid or refunded. (A ticket of a
        build without payments has a complete order and no order status.)"""
        if self.status not in FINAL_STATUSES:
            return False
        return self.status == "rejected" or self.order_status in (None, "paid", "refunded")

    def position(self, decided: int, served: int = 0) -> int | None:
        """Approximate place in line while queued (intents ahead not yet decided, plus one);
        place on the waitlist while waitlisted (``served``: buyers it already served)."""
        if self.status == "waitlisted" and self.waitlist_seq:
            return max(1, self.waitlist_seq - served)
        if self.status != "queued" or not self.seq:
            return None
        return max(1, self.seq - decided)

    def to_json(self, ticket_id: str, decided: int = 0, served: int = 0) -> bytes:
        """The ticket object of the API (see gateway.domain.TicketView); ``decided`` is the
        number of decisions its sale has taken and ``served`` its waitlist's, for the
        position."""
        return (
            f'{{"ticket_id":"{ticket_id}","sale_id":"{self.sale_id}","status":"{self.status}",'
            f'"reason":{_json_value(self.reason)},"order_id":{_json_value(self.order_id)},'
            f'"position":{_json_value(self.position(decided, served))},'
            f'"order_status":{_json_value(self.order_status)},'
            f'"drawn_position":{_json_value(self.drawn_position or None)}}}'
        ).encode()


def _json_value(value: str | int | None) -> str:
    """A field of the ticket object as JSON: json.dumps of None or an int goes through the
    generic encoder (~1 µs each, four per poll); strings keep json.dumps's escaping."""
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class Intent:
    """A purchase on its way to its sale's line: the fields of a ``place_purchase`` command
    (shared.contracts.messages.PlacePurchase), kept as the strings they are written as (Redis
    arguments, JSON). Made by this process from values already checked, so never validated
    again: a pydantic model per purchase, its UUIDs turned into strings three times over, cost
    ~8 µs of every purchase."""

    ticket_id: str
    sale_id: str
    user_id: str
    requested_at_ms: int


def intent_batch_json(intents: Sequence[Intent]) -> bytes:
    """The ``command_batch`` message of ``intents``: byte for byte what encode(CommandBatch)
    makes of the same commands (tests/unit/gateway/test_intents.py), every field a UUID
    string or an int, so nothing needs escaping."""
    return (
        '{"type":"command_batch","version":1,"commands":['
        + ",".join(
            f'{{"type":"place_purchase","ticket_id":"{i.ticket_id}","sale_id":"{i.sale_id}",'
            f'"user_id":"{i.user_id}","requested_at_ms":{i.requested_at_ms}}}'
            for i in intents
        )
        + "]}"
    ).encode()


@dataclass(frozen=True)
class Earlier:
    """What an earlier request with the same Idempotency-Key got: its ticket, or nothing yet
    (the broker has not confirmed it: ``in_progress``)."""

    ticket_id: str
    in_progress: bool
