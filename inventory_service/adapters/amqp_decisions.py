"""The broker side of deciding: decisions to the order service, poison to the dead letters."""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.abc import AbstractExchange

from inventory_service.dead_letters import REASON_HEADER
from inventory_service.ports import RequestIds
from shared.contracts.messages import Command, CommandBatch, Event, EventBatch, encode
from shared.runtime import request_ids as ids
from shared.runtime.publishing import publish_confirmed


class AmqpDecisionPublisher:
    """One confirmed, persistent message per batch of decisions (or of dead letters)."""

    def __init__(
        self,
        decisions: AbstractExchange,
        dead_letters: AbstractExchange,
        *,
        confirm_timeout: float,
    ) -> None:
        self._decisions = decisions
        self._dead_letters = dead_letters
        self._timeout = confirm_timeout

    async def publish(self, events: Sequence[Event], request_ids: RequestIds) -> None:
        await publish_confirmed(
            self._decisions,
            encode(EventBatch.model_construct(events=list(events))),
            "decisions",
            confirm_timeout=self._timeout,
            headers=ids.message_headers(request_ids),
        )

    async def dead_letter(
        self, commands: Sequence[Command], request_ids: RequestIds, *, reason: str
    ) -> None:
        await publish_confirmed(
            self._dead_letters,
            encode(CommandBatch(commands=list(commands))),
            "",
            confirm_timeout=self._timeout,
            headers={REASON_HEADER: reason, **ids.message_headers(request_ids)},
        )
