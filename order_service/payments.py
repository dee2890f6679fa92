"""Payments: what we ask a provider (a charge, a refund), the port that asks it, and the
webhook events that bring its answers back; pure.

A provider never answers a charge in the call: the outcome arrives later as a signed webhook
(webhook_signature.py), which is why ``charge`` and ``refund`` return nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

# The test cards every provider understands (Stripe's names): one that succeeds, one that is
# declined, one that succeeds late (to see a pending payment).
TEST_METHODS = ("pm_card_visa", "pm_card_chargeDeclined", "pm_card_slow")

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
EventType = Literal["payment.succeeded", "payment.failed", "refund.succeeded"]


@dataclass(frozen=True)
class Charge:
    """Take ``amount`` (minor units: cents) for an order; ``payment_id`` is the idempotency key."""

    payment_id: UUID
    order_id: UUID
    amount: int
    currency: str
    payment_method: str


@dataclass(frozen=True)
class Refund:
    """Give back what the payment ``payment_id`` took."""

    payment_id: UUID
    order_id: UUID
    amount: int
    currency: str


class ProviderUnavailable(Exception):
    """The provider could not be asked; nothing was charged or refunded."""


class PaymentProvider(Protocol):
    """Someone who can charge and refund; the answers arrive later, by webhook."""

    name: str

    def accepts(self, payment_method: str) -> bool:
        """Whether this provider knows the method (else the API answers 422)."""

    async def charge(self, charge: Charge) -> None:
        """Ask for the charge; raise ProviderUnavailable if it cannot be asked."""

    async def refund(self, refund: Refund) -> None:
        """Ask for the refund; asking twice for one payment_id refunds once."""

    async def close(self) -> None:
        """Stop: what is still in flight is abandoned."""


# --- webhook events: the provider's answers ---------------------------------------------------


class WebhookData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_id: UUID
    order_id: UUID
    amount: int = Field(ge=0)
    currency: Currency
    failure_code: str | None = None


class WebhookEvent(BaseModel):
    """One answer; ``id`` stays the same across redeliveries, so handling can be idempotent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    type: EventType
    created: int
    data: WebhookData


class InvalidEvent(ValueError):
    """A webhook body that is no event we know."""


_event: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)


def parse_event(body: bytes) -> WebhookEvent:
    """The event in a webhook body; InvalidEvent for bad JSON or a bad shape."""
    try:
        return _event.validate_json(body)
    except ValidationError as exc:
        # The first error is enough to act on, and keeps the message short for a 4xx body.
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidEvent(f"invalid webhook event: {where}: {first['msg']}") from None
