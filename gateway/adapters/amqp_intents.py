"""The sales' lines on the broker: one persistent, confirmed message per batch of intents."""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.abc import AbstractExchange

from gateway import metrics
from gateway.domain import Intent, intent_batch_json
from shared.runtime import request_ids as ids
from shared.runtime.publishing import publish_confirmed
from shared.runtime.web import DEPENDENCY_ERRORS


class AmqpIntentQueue:
    def __init__(self, intents: AbstractExchange, *, confirm_timeout: float) -> None:
        self._intents = intents
        self._timeout = confirm_timeout

    async def publish(
        self, partition: int, purchases: Sequence[Intent], request_ids: Sequence[str | None]
    ) -> None:
        try:
            await publish_confirmed(
                self._intents,
                intent_batch_json(purchases),
                str(partition),
                confirm_timeout=self._timeout,
                headers=ids.message_headers(request_ids),
            )
        except DEPENDENCY_ERRORS:
            metrics.PUBLISH_FAILURES.inc()
            raise
        metrics.PUBLISH_BATCH_SIZE.observe(len(purchases))
        metrics.INTENTS_PUBLISHED.inc(len(purchases))
