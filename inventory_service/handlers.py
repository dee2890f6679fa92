"""The inventory service's use cases: decide a batch of intents, add stock through a sale's
line, and repair missing sale counters at start. Dependencies are passed in (ports.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from inventory_service import metrics
from inventory_service.dead_letters import UNKNOWN_SALE, RequeueReport, plan, sales_named, why_left
from inventory_service.domain import (
    Accepted,
    Decision,
    InWaitingRoom,
    NewSale,
    Rejected,
    Released,
    RoomDrawn,
    SaleRequest,
    StockIncreased,
    UnknownSale,
    WaitlistClosed,
    Waitlisted,
)
from inventory_service.ports import (
    CommandLine,
    DeadLetters,
    DecisionPublisher,
    OrderCounts,
    ProductRecords,
    QueuedTickets,
    ReconcilableStore,
    RequestIds,
    SaleRecords,
    SaleStore,
    TicketOutcomes,
)
from inventory_service.reconciliation import Check, DurableState, compare, rebuild
from shared.contracts.errors import ValidationFailed
from shared.contracts.messages import (
    AddStock,
    CloseWaitlist,
    Command,
    DrawWaitingRoom,
    Event,
    PlacePurchase,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
)
from shared.contracts.products import NewProduct, ProductView
from shared.contracts.redis_layout import SaleField, on_waitlist
from shared.contracts.sales import RoomState, SaleTerms, now_ms

log = logging.getLogger(__name__)


async def decide_intents(
    commands: Sequence[Command],
    request_ids: RequestIds,
    *,
    store: SaleStore,
    records: SaleRecords,
    publisher: DecisionPublisher,
) -> None:
    """Decide a batch in line order, make its effects durable, then hand the decisions on.

    Only when this returns may the intents be acked: a failure anywhere raises, the intents
    come back, and their redelivery gets the decisions stored the first time (nothing is
    decided, recorded or published twice in effect).
    """
    commands, request_ids = await _draws_first(commands, request_ids, store)
    decisions = await store.decide(commands)
    decided_at = now_ms()
    events: list[Event] = []
    event_ids: list[str | None] = []
    unknown: list[Command] = []
    unknown_ids: list[str | None] = []
    for command, decision, request_id in zip(commands, decisions, request_ids, strict=True):
        if isinstance(decision, UnknownSale):
            unknown.append(command)
            unknown_ids.append(request_id)
            continue
        if isinstance(command, AddStock):
            # Durable before the ack; a redelivery records nothing twice.
            await records.record_stock_change(command.command_id, command.sale_id, command.quantity)
        if isinstance(decision, RoomDrawn):
            await records.record_draw(
                command.sale_id, decision.seed, decision.drawn_at_ms, len(decision.tickets)
            )
            log.info(
                "waiting room drawn",
                extra={
                    "sale_id": str(command.sale_id),
                    "seed": decision.seed,
                    "tickets": len(decision.tickets),
                },
            )
        terms = await store.terms(command.sale_id)
        assert terms is not None  # the sale was known to the decider a moment ago
        for event in _events(command, decision, decided_at, terms):
            events.append(event)
            event_ids.append(request_id)
    metrics.BATCH_SIZE.observe(len(commands))
    if unknown:
        # Only the items naming an unknown sale go to the dead-letter queue; the rest of
        # their message is decided as usual.
        for command, request_id in zip(unknown, unknown_ids, strict=True):
            log.error(
                "intent for an unknown sale dead-lettered",
                extra={"sale_id": str(command.sale_id), "request_id": request_id},
            )
        metrics.POISON.labels("UnknownSale").inc(len(unknown))
        await publisher.dead_letter(unknown, unknown_ids, reason=UNKNOWN_SALE)
    if events:
        await publisher.publish(events, event_ids)
    for command, decision in zip(commands, decisions, strict=True):
        if isinstance(decision, RoomDrawn):
            store.room_handed_on(command.sale_id)
    _count(events, event_ids)


async def _draws_first(
    commands: Sequence[Command], request_ids: RequestIds, store: SaleStore
) -> tuple[Sequence[Command], RequestIds]:
    """The batch with its sales' waiting-room draws put in front of the first purchase made
    after a fair window (the room goes first): at most once per sale, and only where this
    process has not seen the draw taken. A draw taken before answers what it drew then, so
    its decisions are handed on again (the order service takes them once)."""
    out: list[Command] | None = None
    ids: list[str | None] = []
    drawing: set[UUID] = set()  # sales whose draw is in the batch already
    draw_at: dict[UUID, int | None] = {}  # asked once per sale and batch
    for i, command in enumerate(commands):
        sale_id = command.sale_id
        if isinstance(command, DrawWaitingRoom):
            drawing.add(sale_id)  # sent by a service: no second one needed
        elif isinstance(command, PlacePurchase) and sale_id not in drawing:
            if sale_id not in draw_at:
                draw_at[sale_id] = await store.draw_at(sale_id)
            due = draw_at[sale_id]
            if due is not None and command.requested_at_ms >= due:
                if out is None:
                    out, ids = list(commands[:i]), list(request_ids[:i])
                drawing.add(sale_id)
                out.append(draw_command(sale_id))
                ids.append(None)
        if out is not None:
            out.append(command)
            ids.append(request_ids[i])
    return (commands, request_ids) if out is None else (out, ids)


_DRAW_NAMESPACE = uuid.UUID("5e0f3c1a-9b7d-4c2e-8f61-2a4d6b8c0e13")


def draw_command(sale_id: UUID) -> DrawWaitingRoom:
    """The one command that draws a sale's waiting room: its id comes from the sale, so
    however many services send it (and however often), the room is drawn once."""
    return DrawWaitingRoom(
        command_id=uuid.uuid5(_DRAW_NAMESPACE, str(sale_id)),
        sale_id=sale_id,
        requested_at_ms=now_ms(),
    )


async def draw_due_rooms(*, store: SaleStore, line: CommandLine) -> int:
    """Send the draw of each sale whose fair window is over and whose waiting room holds
    tickets not drawn yet; how many were sent. (Run every second or so by each inventory
    service: the draw happens even if nobody buys after the window.)"""
    sent = 0
    now = now_ms()
    for sale_id, fields in await store.all_sales():
        room = RoomState.from_hash(fields)
        if room.waiting <= 0:
            continue
        terms = SaleTerms.from_hash(sale_id, fields)
        if now >= terms.fair_start(int(fields[SaleField.STARTS_AT_MS])).draw_at_ms:
            await line.enqueue(draw_command(sale_id))
            sent += 1
    return sent


def _accepted(
    ticket_id: UUID,
    sale_id: UUID,
    user_id: UUID,
    at_ms: int,
    terms: SaleTerms,
    *,
    requested_at_ms: int | None,
    from_waitlist: bool = False,
) -> PurchaseAccepted:
    # The unit is reserved from this moment: the payment window starts now.
    return PurchaseAccepted.model_construct(
        ticket_id=ticket_id,
        sale_id=sale_id,
        user_id=user_id,
        decided_at_ms=at_ms,
        requested_at_ms=requested_at_ms,
        product_id=terms.product.product_id,
        price_amount=terms.price.amount,
        currency=terms.price.currency,
        pay_by_ms=at_ms + terms.payment_window_ms,
        from_waitlist=from_waitlist,
    )


def _served(
    sale_id: UUID, promoted: Sequence[tuple[UUID, UUID]], at_ms: int, terms: SaleTerms
) -> list[Event]:
    """The waitlisted (ticket, user) given a unit: accepted now, with a window of their own."""
    return [
        _accepted(
            ticket_id, sale_id, user_id, at_ms, terms, requested_at_ms=None, from_waitlist=True
        )
        for ticket_id, user_id in promoted
    ]


def _events(command: Command, decision: Decision, at_ms: int, terms: SaleTerms) -> list[Event]:
    """What the order service learns of a decision. (A ticket put on the waitlist is not
    news for it: gateways learn that from the decider directly.)"""
    # Constructed without validation: every field comes from a validated command.
    if isinstance(decision, StockIncreased):
        assert isinstance(command, AddStock)
        added: list[Event] = [
            StockAdded.model_construct(
                command_id=decision.command_id,
                sale_id=command.sale_id,
                quantity=command.quantity,
                stock=decision.stock,
                remaining=decision.remaining,
                decided_at_ms=at_ms,
            )
        ]
        return added + _served(command.sale_id, decision.promoted, at_ms, terms)
    if isinstance(decision, Released):
        promoted = () if decision.promoted is None else (decision.promoted,)
        return _served(command.sale_id, promoted, at_ms, terms)
    if isinstance(decision, RoomDrawn):
        return [
            event
            for drawn in decision.tickets
            for event in _purchase_events(
                PlacePurchase.model_construct(
                    ticket_id=drawn.ticket_id,
                    sale_id=command.sale_id,
                    user_id=drawn.user_id,
                    requested_at_ms=drawn.requested_at_ms,
                ),
                drawn.decision,
                at_ms,
                terms,
            )
        ]
    if isinstance(decision, WaitlistClosed):
        return [
            PurchaseRejected.model_construct(
                ticket_id=ticket_id,
                sale_id=command.sale_id,
                user_id=user_id,
                reason="sold_out",
                decided_at_ms=at_ms,
                requested_at_ms=None,
            )
            for ticket_id, user_id in decision.dropped
        ]
    assert isinstance(command, PlacePurchase)
    return _purchase_events(command, decision, at_ms, terms)


def _purchase_events(
    command: PlacePurchase, decision: Decision, at_ms: int, terms: SaleTerms
) -> list[Event]:
    if isinstance(decision, Accepted):
        return [
            _accepted(
                command.ticket_id,
                command.sale_id,
                command.user_id,
                at_ms,
                terms,
                requested_at_ms=command.requested_at_ms,
            )
        ]
    if isinstance(decision, Waitlisted | InWaitingRoom):
        return []
    assert isinstance(decision, Rejected)
    return [
        PurchaseRejected.model_construct(
            ticket_id=command.ticket_id,
            sale_id=command.sale_id,
            user_id=command.user_id,
            reason=decision.reason,
            decided_at_ms=at_ms,
            requested_at_ms=command.requested_at_ms,
        )
    ]


def _count(events: Sequence[Event], request_ids: RequestIds) -> None:
    debug = log.isEnabledFor(logging.DEBUG)
    for event, request_id in zip(events, request_ids, strict=True):
        metrics.DECISIONS.labels(
            event.reason if isinstance(event, PurchaseRejected) else event.type
        ).inc()
        if debug and isinstance(event, PurchaseAccepted | PurchaseRejected):
            log.debug(
                "decided",
                extra={
                    "ticket_id": str(event.ticket_id),
                    "event": event.type,
                    "request_id": request_id,
                },
            )


async def create_product(
    product: NewProduct, created_by: UUID, *, products: ProductRecords
) -> ProductView:
    product_id = uuid.uuid4()
    await products.insert(product_id, product, created_by)
    return ProductView(product_id=product_id, **product.model_dump(mode="json"))


async def create_sale(
    request: SaleRequest,
    created_by: UUID,
    *,
    default_payment_window: int,
    products: ProductRecords,
    records: SaleRecords,
    store: SaleStore,
) -> tuple[UUID, NewSale, ProductView]:
    """Record a new sale of a product and put its counters in place; its id, its complete
    definition and its product."""
    product = await products.get(request.product_id)
    if product is None:
        raise ValidationFailed(
            "no such product",
            code="no_such_product",
            details=[{"field": "product_id", "message": "no product has this id"}],
        )
    price = request.price or product.price
    if price.currency != product.price.currency:
        # The list price is shown struck through next to the sale price: one currency.
        raise ValidationFailed(
            "the sale price must be in the product's currency",
            details=[{"field": "price.currency", "message": f"must be {product.price.currency}"}],
        )
    sale = NewSale.model_validate(
        {
            **request.model_dump(),
            "price": price,
            "payment_window_seconds": request.payment_window_seconds or default_payment_window,
        }
    )
    sale_id = uuid.uuid4()
    # Postgres first: it is the durable record, and the start-up repair rebuilds counters
    # that a crash between these two writes left missing.
    await records.insert(sale_id, sale, created_by)
    await store.create(sale_id, sale, product=product)
    return sale_id, sale, product


async def add_stock(
    sale_id: UUID,
    quantity: int,
    *,
    line: CommandLine,
    store: SaleStore,
    request_id: str | None = None,
    wait: float = 5.0,
) -> tuple[UUID, StockIncreased | None]:
    """Add units through the sale's own line, so they take effect at a well-defined place in
    it; (command id, its decision), None if the line did not reach it within ``wait``."""
    command = AddStock(
        command_id=uuid.uuid4(), sale_id=sale_id, quantity=quantity, requested_at_ms=now_ms()
    )
    await line.enqueue(command, request_id)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        outcome = await store.command_outcome(sale_id, command.command_id)
        if outcome is not None:
            return command.command_id, outcome
        await asyncio.sleep(0.02)
    return command.command_id, None


async def restore_missing_sales(
    *, records: SaleRecords, order_counts: OrderCounts, store: SaleStore
) -> int:
    """Create the counters of each sale that lacks them; return how many were created.

    They are missing after a crash between the two writes of sale creation (then the sale
    has no orders and the rebuild is exact) or after Redis lost its data, which the shipped
    Redis settings (AOF, fsync always) prevent. In the second case decisions still in the
    broker are not counted, so the rebuild is logged loudly for an operator to check.
    """
    restored = 0
    held_by_sale = await order_counts.held_by_sale()
    for sale_id, sale, product in await records.all():
        orders = held_by_sale.get(sale_id, 0)
        remaining = max(sale.stock - orders, 0)
        if await store.create(sale_id, sale, product=product, remaining=remaining):
            restored += 1
            log.log(
                logging.WARNING if orders else logging.INFO,
                "sale counters rebuilt from Postgres",
                extra={"sale_id": str(sale_id), "orders": orders, "remaining": remaining},
            )
    return restored


_CLOSE_NAMESPACE = uuid.UUID("0c1d7e2a-5b9f-4f0e-8a61-3d2b9c4e5f70")


def close_waitlist_command(sale_id: UUID) -> CloseWaitlist:
    """The one command that closes a sale's waitlist: its id comes from the sale, so however
    many services send it, the decider closes the waitlist once."""
    return CloseWaitlist(
        command_id=uuid.uuid5(_CLOSE_NAMESPACE, str(sale_id)),
        sale_id=sale_id,
        requested_at_ms=now_ms(),
    )


async def close_ended_waitlists(*, store: SaleStore, line: CommandLine) -> int:
    """Send the closing command of each ended sale with buyers still on its waitlist; how
    many were sent. (Run every second or so by each inventory service.)"""
    sent = 0
    now = now_ms()
    for sale_id, fields in await store.all_sales():
        waiting = on_waitlist(
            int(fields.get(SaleField.WAITLISTED, 0)),
            int(fields.get(SaleField.WAITLIST_SERVED, 0)),
            int(fields.get(SaleField.WAITLIST_DROPPED, 0)),
        )
        if waiting > 0 and int(fields["ends_at_ms"]) <= now:
            await line.enqueue(close_waitlist_command(sale_id))
            sent += 1
    return sent


@dataclass(frozen=True)
class SaleReconciliation:
    sale_id: UUID
    name: str
    checks: list[Check]
    repaired: bool = False

    @property
    def drift(self) -> bool:
        return not all(c.agrees for c in self.checks)


async def reconcile(
    sale_ids: Sequence[UUID] | None,
    *,
    repair: bool,
    records: SaleRecords,
    outcomes: TicketOutcomes,
    store: ReconcilableStore,
) -> list[SaleReconciliation]:
    """Compare each sale's Redis state with Postgres; with ``repair``, rebuild each sale that
    drifts from Postgres and compare again. The caller makes sure the lines are drained and
    no decider runs before it repairs (docs/RECONCILE.md)."""
    results = []
    for sale_id, sale, product in await records.all():
        if sale_ids is not None and sale_id not in sale_ids:
            continue
        durable = DurableState(stock=sale.stock, outcomes=await outcomes.of_sale(sale_id))
        checks = compare(await store.hot_state(sale_id), durable)
        result = SaleReconciliation(sale_id, sale.name, checks)
        if repair and result.drift:
            await store.replace(sale_id, sale, product, rebuild(durable), durable.outcomes)
            log.warning("sale rebuilt from Postgres", extra={"sale_id": str(sale_id)})
            checks = compare(await store.hot_state(sale_id), durable)
            result = SaleReconciliation(sale_id, sale.name, checks, repaired=True)
        results.append(result)
    return results


async def requeue_dead_letters(
    sale_ids: Sequence[UUID] | None,
    *,
    letters: DeadLetters,
    store: SaleStore,
    tickets: QueuedTickets,
) -> RequeueReport:
    """Move the purchases dead-lettered as ``unknown_sale`` whose sale exists now (of
    ``sale_ids`` only, if given) back to their partitions, each ticket's record restored
    first; leave everything else in the dead-letter queue (see inventory_service.dead_letters).
    Safe to run again: what was moved is gone from the dead letters, the rest is as it was."""
    report = RequeueReport()
    exists: dict[UUID, bool] = {}
    async for letter in letters.read():
        report.read += 1
        for sale_id in sales_named(letter) - exists.keys():
            wanted = sale_ids is None or sale_id in sale_ids
            exists[sale_id] = wanted and await store.terms(sale_id) is not None
        requeue = plan(letter, {sale_id for sale_id, known in exists.items() if known})
        if requeue is None:
            report.leave(why_left(letter, sale_ids))
            continue
        # The records first: a decision must land on a ticket a gateway can read.
        await tickets.restore(requeue.back)
        await letters.move(letter, requeue)
        report.moved(requeue)
    return report
