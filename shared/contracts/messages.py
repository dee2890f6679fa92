"""Message contracts on the broker.

Every AMQP message body is one *batch*: a JSON object with a ``type``, a ``version`` and a
list of items. The gateway gathers the purchases of ~1 ms into one confirmed publish and the
inventory service publishes the decisions of one delivered batch as one message, so one
persistent, confirmed message carries many items while each item keeps its own identity
(ticket id or command id) for idempotency.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION = 1

RejectReason = Literal["sold_out", "limit_reached", "sale_not_active"]


class Message(BaseModel):
    """Base of every item: frozen and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- commands: intents to the inventory service (one FIFO line per sale) ---------------------


class PlacePurchase(Message):
    """A buyer asks for one unit; decided in the order the gateway published it."""

    type: Literal["place_purchase"] = "place_purchase"
    ticket_id: UUID
    sale_id: UUID
    user_id: UUID
    requested_at_ms: int = Field(ge=0)


class AddStock(Message):
    """An operator adds units; it takes effect at its place in the sale's line."""

    type: Literal["add_stock"] = "add_stock"
    command_id: UUID
    sale_id: UUID
    quantity: int = Field(ge=1, le=1_000_000_000)
    requested_at_ms: int = Field(ge=0)


class ReleaseUnit(Message):
    """An expired order gives its unit back: to the first waitlisted buyer, else to stock.
    Its id comes from the order, so the unit is released once however often it is sent."""

    type: Literal["release_unit"] = "release_unit"
    command_id: UUID
    sale_id: UUID
    order_id: UUID
    ticket_id: UUID
    user_id: UUID
    requested_at_ms: int = Field(ge=0)


class CloseWaitlist(Message):
    """The sale ended: every buyer still on its waitlist is refused (sold out)."""

    type: Literal["close_waitlist"] = "close_waitlist"
    command_id: UUID
    sale_id: UUID
    requested_at_ms: int = Field(ge=0)


class DrawWaitingRoom(Message):
    """The sale's fair window is over: its waiting room enters the line in a drawn order
    (shared.contracts.fair_start), once, however many services send it. The decider draws
    the seed; nobody knows it before."""

    type: Literal["draw_waiting_room"] = "draw_waiting_room"
    command_id: UUID
    sale_id: UUID
    requested_at_ms: int = Field(ge=0)


Command = Annotated[
    PlacePurchase | AddStock | ReleaseUnit | CloseWaitlist | DrawWaitingRoom,
    Field(discriminator="type"),
]
# The commands an operator or a service sends into a sale's line (not a buyer's purchase).
LineCommand = AddStock | ReleaseUnit | CloseWaitlist | DrawWaitingRoom


class CommandBatch(Message):
    type: Literal["command_batch"] = "command_batch"
    version: Literal[1] = 1
    commands: list[Command] = Field(min_length=1)


# --- events: outcomes from the inventory service ----------------------------------------------


class PurchaseAccepted(Message):
    """A unit was reserved for the ticket; the order service writes the order, to be paid by
    ``pay_by_ms`` at the sale's price. (Decisions of a build without payments lack the terms:
    their order is complete at once, for nothing, as it was then.)"""

    type: Literal["purchase_accepted"] = "purchase_accepted"
    ticket_id: UUID
    sale_id: UUID
    user_id: UUID
    decided_at_ms: int = Field(ge=0)
    requested_at_ms: int | None = Field(default=None, ge=0)
    product_id: UUID | None = None
    price_amount: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    pay_by_ms: int | None = Field(default=None, ge=0)
    from_waitlist: bool = False


class PurchaseRejected(Message):
    type: Literal["purchase_rejected"] = "purchase_rejected"
    ticket_id: UUID
    sale_id: UUID
    user_id: UUID
    reason: RejectReason
    decided_at_ms: int = Field(ge=0)
    requested_at_ms: int | None = Field(default=None, ge=0)


class StockAdded(Message):
    type: Literal["stock_added"] = "stock_added"
    command_id: UUID
    sale_id: UUID
    quantity: int
    stock: int
    remaining: int
    decided_at_ms: int = Field(ge=0)


Event = Annotated[PurchaseAccepted | PurchaseRejected | StockAdded, Field(discriminator="type")]


class EventBatch(Message):
    type: Literal["event_batch"] = "event_batch"
    version: Literal[1] = 1
    events: list[Event] = Field(min_length=1)


# --- decoding ------------------------------------------------------------------------------------


class PoisonMessage(Exception):
    """A body that can never be processed: it belongs in the dead-letter queue."""


class UnsupportedVersion(PoisonMessage):
    pass


_command_batch: TypeAdapter[CommandBatch] = TypeAdapter(CommandBatch)
_event_batch: TypeAdapter[EventBatch] = TypeAdapter(EventBatch)


def _diagnose(body: bytes, expected_type: str, exc: ValidationError) -> PoisonMessage:
    """Why a body failed validation: a version problem is reported as such, not as a pile
    of field errors (only computed for bodies that failed: the hot path parses once)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return PoisonMessage(f"undecodable body: {error}")
    if not isinstance(envelope, dict) or envelope.get("type") != expected_type:
        return PoisonMessage(f"expected a {expected_type} object")
    version = envelope.get("version")
    if version != SCHEMA_VERSION:
        return UnsupportedVersion(
            f"{expected_type} version {version!r} is not supported (this build reads "
            f"version {SCHEMA_VERSION})"
        )
    return PoisonMessage(f"invalid {expected_type}: {exc.errors(include_url=False)}")


def decode_commands(body: bytes) -> CommandBatch:
    """Parse an intents message; raise PoisonMessage for anything that cannot be processed."""
    try:
        return _command_batch.validate_json(body)
    except ValidationError as exc:
        raise _diagnose(body, "command_batch", exc) from None


def decode_events(body: bytes) -> EventBatch:
    """Parse a decisions message; raise PoisonMessage for anything that cannot be processed."""
    try:
        return _event_batch.validate_json(body)
    except ValidationError as exc:
        raise _diagnose(body, "event_batch", exc) from None


def encode(batch: CommandBatch | EventBatch) -> bytes:
    return batch.model_dump_json().encode()
