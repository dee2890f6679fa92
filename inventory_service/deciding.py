"""The use case at the heart of the engine: decide a batch of intents, publish, then ack."""

from __future__ import annotations

import logging
import time

from aio_pika.abc import AbstractExchange

from inventory_service import metrics
from inventory_service.domain import Accepted, Rejected, StockIncreased, UnknownSale
from inventory_service.repository import SaleRepository
from inventory_service.store import SaleStore
from shared import request_ids
from shared.consuming import Batch
from shared.messages import (
    AddStock,
    Command,
    CommandBatch,
    Event,
    EventBatch,
    PlacePurchase,
    PoisonMessage,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
    decode_commands,
    encode,
)
from shared.publishing import publish_confirmed

log = logging.getLogger(__name__)


def _event(command: Command, decision: Accepted | Rejected | StockIncreased, now_ms: int) -> Event:
    # Constructed without validation: every field comes from a validated command.
    if isinstance(decision, StockIncreased):
        return StockAdded.model_construct(
            command_id=decision.command_id,
            sale_id=command.sale_id,
            quantity=command.quantity,  # type: ignore[union-attr]
            stock=decision.stock,
            remaining=decision.remaining,
            decided_at_ms=now_ms,
        )
    assert isinstance(command, PlacePurchase)
    if isinstance(decision, Accepted):
        return PurchaseAccepted.model_construct(
            ticket_id=command.ticket_id,
            sale_id=command.sale_id,
            user_id=command.user_id,
            decided_at_ms=now_ms,
        )
    return PurchaseRejected.model_construct(
        ticket_id=command.ticket_id,
        sale_id=command.sale_id,
        user_id=command.user_id,
        reason=decision.reason,
        decided_at_ms=now_ms,
    )


class IntentDecider:
    """Batch handler of a partition queue: Redis decides, the broker confirms, then we ack."""

    def __init__(
        self,
        store: SaleStore,
        repository: SaleRepository,
        decisions: AbstractExchange,
        dead_letters: AbstractExchange,
        *,
        publish_timeout: float,
    ) -> None:
        self._store = store
        self._repository = repository
        self._decisions = decisions
        self._dead_letters = dead_letters
        self._publish_timeout = publish_timeout

    async def __call__(self, batch: Batch) -> None:
        commands: list[Command] = []
        ids: list[str | None] = []  # the request id of each command, where the gateway sent it
        for message in batch:
            try:
                decoded = decode_commands(message.body).commands
            except PoisonMessage as exc:
                log.error(
                    "poison intent message dead-lettered",
                    extra={"reason": str(exc), "request_ids": request_ids.carried(message.headers)},
                )
                metrics.POISON.labels(type(exc).__name__).inc()
                await message.reject(requeue=False)
                continue
            commands.extend(decoded)
            ids.extend(request_ids.from_message(message.headers, len(decoded)))
        if not commands:
            return
        decisions = await self._store.decide(commands)
        now_ms = int(time.time() * 1000)
        events: list[Event] = []
        event_ids: list[str | None] = []
        unknown: list[tuple[Command, str | None]] = []
        for command, decision, request_id in zip(commands, decisions, ids, strict=True):
            if isinstance(decision, UnknownSale):
                unknown.append((command, request_id))
                continue
            events.append(_event(command, decision, now_ms))
            event_ids.append(request_id)
        metrics.BATCH_SIZE.observe(len(commands))
        for command, decision in zip(commands, decisions, strict=True):
            if isinstance(command, AddStock) and isinstance(decision, StockIncreased):
                # Durable before the ack; a redelivery records nothing twice.
                await self._repository.record_stock_change(
                    command.command_id, command.sale_id, command.quantity
                )
        if unknown:
            await self._dead_letter(unknown)
        if events:
            await publish_confirmed(
                self._decisions,
                encode(EventBatch.model_construct(events=events)),
                "decisions",
                confirm_timeout=self._publish_timeout,
                headers=request_ids.message_headers(event_ids),
            )
        debug = log.isEnabledFor(logging.DEBUG)
        for event, request_id in zip(events, event_ids, strict=True):
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

    async def _dead_letter(self, unknown: list[tuple[Command, str | None]]) -> None:
        # Only the items naming an unknown sale go to the dead-letter queue; the rest of
        # their message is decided as usual.
        for command, request_id in unknown:
            log.error(
                "intent for an unknown sale dead-lettered",
                extra={"sale_id": str(command.sale_id), "request_id": request_id},
            )
        metrics.POISON.labels("UnknownSale").inc(len(unknown))
        await publish_confirmed(
            self._dead_letters,
            encode(CommandBatch(commands=[command for command, _ in unknown])),
            "",
            confirm_timeout=self._publish_timeout,
            headers={
                "x-poison-reason": "unknown_sale",
                **request_ids.message_headers([request_id for _, request_id in unknown]),
            },
        )
