"""The order service's use cases: persist a batch of decisions, list a buyer's orders, pay
an order, take the provider's answers, expire unpaid orders and release their units.
Dependencies are passed in (ports.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from uuid import UUID

from order_service import metrics, webhook_signature
from order_service.adapters.postgres_payments import Payment
from order_service.domain import outcomes_of
from order_service.payments import PaymentProvider, ProviderUnavailable, parse_event
from order_service.ports import OrderObject, OrderStore, PaymentStore, SaleLine, TicketFinaliser
from shared.contracts.errors import ServiceUnavailable, ValidationFailed
from shared.contracts.messages import Event, PurchaseAccepted, PurchaseRejected, ReleaseUnit
from shared.contracts.sales import now_ms

log = logging.getLogger(__name__)


async def persist_decisions(
    events: Sequence[Event],
    request_ids: Sequence[str | None],
    *,
    orders: OrderStore,
    tickets: TicketFinaliser,
) -> None:
    """Commit a batch of decisions, then show their outcome; only then may they be acked.

    Commit first: a ticket never reads "confirmed" without its order row. A failure raises
    and the batch comes back; persisting is idempotent per ticket, so its redelivery writes
    nothing twice.
    """
    outcomes = outcomes_of(list(events))
    if not outcomes:
        return
    started = time.perf_counter()
    await orders.persist(outcomes)
    metrics.DB_WRITE_SECONDS.observe(time.perf_counter() - started)
    await tickets.finalise(outcomes)
    metrics.BATCH_SIZE.observe(len(outcomes))
    by_ticket = {
        event.ticket_id: request_id
        for event, request_id in zip(events, request_ids, strict=True)
        if request_id is not None and isinstance(event, PurchaseAccepted | PurchaseRejected)
    }
    debug = log.isEnabledFor(logging.DEBUG)
    for outcome in outcomes:
        metrics.PERSISTED.labels(outcome.status).inc()
        if debug:
            log.debug(
                "ticket final",
                extra={
                    "ticket_id": str(outcome.ticket_id),
                    "status": outcome.status,
                    "request_id": by_ticket.get(outcome.ticket_id),
                },
            )


async def list_orders(user_id: UUID, limit: int, *, orders: OrderStore) -> list[OrderObject]:
    """The buyer's own orders, newest first."""
    return await orders.orders_of(user_id, limit)


async def pay(
    order_id: UUID,
    user_id: UUID,
    payment_method: str,
    idempotency_key: str | None,
    *,
    payments: PaymentStore,
    provider: PaymentProvider,
) -> Payment:
    """Charge the buyer's order at its own price; the provider answers later by webhook.
    A repeat with the same Idempotency-Key gets the same payment and charges nothing more."""
    if not provider.accepts(payment_method):
        raise ValidationFailed(
            "unknown payment method",
            code="unknown_payment_method",
            details=[{"field": "payment_method", "message": "not a method the provider knows"}],
        )
    payment, created = await payments.start(
        order_id,
        user_id,
        payment_method=payment_method,
        provider=provider.name,
        idempotency_key=idempotency_key,
    )
    if created:
        try:
            await provider.charge(payment.charge())
        except ProviderUnavailable:
            await payments.fail(payment.payment_id, "provider_unavailable")
            raise ServiceUnavailable(
                "the payment provider cannot be reached; nothing was charged", retry_after=5
            ) from None
        metrics.PAYMENTS.labels("started").inc()
    return payment


async def receive_webhook(
    body: bytes,
    signature: str | None,
    *,
    secret: str,
    payments: PaymentStore,
    provider: PaymentProvider,
    tickets: TicketFinaliser,
) -> None:
    """Take a provider's event: checked (signature, age, shape), applied once, shown on the
    ticket; a payment that came too late goes back to the buyer."""
    webhook_signature.verify(body, signature, secret, now=now_ms() // 1000)
    event = parse_event(body)
    outcome = await payments.apply(event)
    metrics.WEBHOOKS.labels(event.type).inc()
    await tickets.show_orders(outcome.changes)
    if outcome.refund is not None:
        # Asked after the commit: a crash before it leaves the payment refund_pending, and
        # the start-up resumes it (the provider refunds a payment once).
        await provider.refund(outcome.refund)


async def expire_and_release(
    *, payments: PaymentStore, tickets: TicketFinaliser, line: SaleLine
) -> int:
    """One sweep: expire what is past its deadline, show it, and send every release still in
    the outbox into its sale's line; how many orders expired."""
    expired = await payments.expire_due()
    if expired:
        metrics.EXPIRED.inc(len(expired))
        await tickets.show_orders(expired)
    await publish_releases(payments=payments, line=line)
    return len(expired)


async def publish_releases(*, payments: PaymentStore, line: SaleLine) -> None:
    """Each release in the outbox, until the broker confirms it; the decider applies each
    command id once, so sending one again after a crash releases nothing twice."""
    releases = await payments.unpublished_releases()
    metrics.RELEASES_UNPUBLISHED.set(len(releases))  # stays up while the broker refuses them
    # One confirmed message per partition for the whole sweep, not one per release.
    await line.enqueue_all(
        [
            ReleaseUnit(
                command_id=release.command_id,
                sale_id=release.sale_id,
                order_id=release.order_id,
                ticket_id=release.ticket_id,
                user_id=release.user_id,
                requested_at_ms=now_ms(),
            )
            for release in releases
        ]
    )
    if releases:
        await payments.mark_published([r.order_id for r in releases])
        metrics.RELEASES_UNPUBLISHED.set(0)


async def resume_open_payments(*, payments: PaymentStore, provider: PaymentProvider) -> int:
    """Ask again for every charge and refund not answered yet (after a restart); the
    provider's answers are applied once, whatever it sends twice."""
    open_payments = await payments.open_payments()
    for payment in open_payments:
        if payment.status == "refund_pending":
            await provider.refund(payment.refund())
        else:
            await provider.charge(payment.charge())
    return len(open_payments)
