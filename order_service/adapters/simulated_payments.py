"""A payment provider for development, tests and demos that behaves like a real one.

It never touches our state: it answers each charge and refund the only way a real provider
can, by calling our webhook over HTTP with a signed body, later, and again if we fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from uuid import UUID, uuid4

import aiohttp

from order_service import webhook_signature
from order_service.payments import (
    TEST_METHODS,
    Charge,
    EventType,
    ProviderUnavailable,
    Refund,
    WebhookData,
    WebhookEvent,
)

log = logging.getLogger(__name__)

_FIRST_BACKOFF = 0.2
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
_LOGGED_BODY_BYTES = 200


class SimulatedPaymentProvider:
    """Stripe's test cards: visa succeeds, chargeDeclined is declined, slow succeeds late."""

    name = "simulated"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        webhook_url: str,
        secret: str,
        delay: float = 0.05,
        slow_delay: float = 3.0,
        retries: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._session = session  # owned by the caller, who closes it after close()
        self._url = webhook_url
        self._secret = secret
        self._delay = delay
        self._slow_delay = slow_delay
        self._retries = retries
        self._clock = clock
        # Strong references: the loop keeps only weak ones, and close() cancels these.
        self._deliveries: set[asyncio.Task[None]] = set()
        # Like a provider's idempotency keys: asking twice does it once.
        self._charged: set[UUID] = set()
        self._refunded: set[UUID] = set()
        self._closed = False

    def accepts(self, payment_method: str) -> bool:
        return payment_method in TEST_METHODS

    async def charge(self, charge: Charge) -> None:
        """Answer with payment.succeeded or payment.failed (card_declined), after a delay."""
        self._check_open()
        if not self.accepts(charge.payment_method):
            raise ValueError(f"unknown payment method {charge.payment_method!r}")
        if charge.payment_id in self._charged:
            return
        declined = charge.payment_method == "pm_card_chargeDeclined"
        data = WebhookData(
            payment_id=charge.payment_id,
            order_id=charge.order_id,
            amount=charge.amount,
            currency=charge.currency,
            failure_code="card_declined" if declined else None,
        )
        after = self._slow_delay if charge.payment_method == "pm_card_slow" else self._delay
        self._schedule(
            self._event("payment.failed" if declined else "payment.succeeded", data), after
        )
        self._charged.add(charge.payment_id)

    async def refund(self, refund: Refund) -> None:
        """Answer with refund.succeeded after a delay, once per payment."""
        self._check_open()
        if refund.payment_id in self._refunded:
            return
        data = WebhookData(
            payment_id=refund.payment_id,
            order_id=refund.order_id,
            amount=refund.amount,
            currency=refund.currency,
        )
        self._schedule(self._event("refund.succeeded", data), self._delay)
        self._refunded.add(refund.payment_id)

    async def close(self) -> None:
        """Cancel the deliveries still pending and wait until they have stopped."""
        self._closed = True
        pending = list(self._deliveries)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _check_open(self) -> None:
        if self._closed:
            raise ProviderUnavailable("the simulated provider is closed")

    def _event(self, type_: EventType, data: WebhookData) -> WebhookEvent:
        return WebhookEvent(
            id=f"evt_{uuid4().hex}", type=type_, created=int(self._clock()), data=data
        )

    def _schedule(self, event: WebhookEvent, after: float) -> None:
        task = asyncio.create_task(self._deliver(event, after), name=f"webhook {event.id}")
        self._deliveries.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._deliveries.discard(task)
        # Nobody awaits a delivery: a bug in one would otherwise vanish without a trace.
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("webhook delivery crashed", exc_info=error)

    async def _deliver(self, event: WebhookEvent, after: float) -> None:
        await asyncio.sleep(after)
        body = event.model_dump_json().encode()
        backoff = _FIRST_BACKOFF
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(backoff)
                backoff *= 2
            status, reply = await self._post(body)
            if 200 <= status < 300:
                return
            details = {"event_id": event.id, "status": status, "reply": reply}
            if status and status < 500:
                # Our side refused it (bad signature, unknown event...): a retry would be too.
                log.warning("webhook refused", extra=details)
                return
            log.info("webhook failed", extra={**details, "attempt": attempt + 1})
        log.error(
            "webhook not delivered", extra={"event_id": event.id, "attempts": self._retries + 1}
        )

    async def _post(self, body: bytes) -> tuple[int, str]:
        """The status (0 when there was no answer) and the start of the reply."""
        # Signed per attempt, as Stripe does: a retry after minutes must not look like a replay.
        headers = {
            webhook_signature.HEADER: webhook_signature.sign(
                body, self._secret, int(self._clock())
            ),
            "Content-Type": "application/json",
        }
        try:
            async with self._session.post(
                self._url,
                data=body,
                headers=headers,
                timeout=_REQUEST_TIMEOUT,
                allow_redirects=False,  # a real provider does not follow them either
            ) as response:
                reply = await response.content.read(_LOGGED_BODY_BYTES)
                return response.status, reply.decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, repr(exc)
