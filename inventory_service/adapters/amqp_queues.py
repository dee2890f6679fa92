"""How deep the lines are: ready messages and consumers of each queue, from the broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aio_pika.abc import AbstractRobustConnection

from inventory_service import metrics
from shared.contracts.topology import Names
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    ready: int  # messages (intent batches) waiting, not yet delivered
    consumers: int


@dataclass(frozen=True)
class Lines:
    partitions: list[QueueDepth]
    dead_letters: QueueDepth
    decisions: QueueDepth

    @property
    def in_flight(self) -> int:
        """Intents not yet decided and decisions not yet persisted (ready in the broker)."""
        return sum(p.ready for p in self.partitions) + self.decisions.ready

    @property
    def deciders(self) -> int:
        return sum(p.consumers for p in self.partitions)


class QueueInspector:
    def __init__(self, connection: AbstractRobustConnection, names: Names) -> None:
        self._connection = connection
        self._names = names

    async def inspect(self) -> Lines:
        """One passive declare per queue, on a short-lived channel of its own."""
        async with self._connection.channel() as channel:
            depths = []
            names = [self._names.intents_queue(p) for p in range(self._names.partitions)]
            extra = [self._names.dead_letter_queue, self._names.decisions_queue]
            for name in [*names, *extra]:
                declared = await channel.declare_queue(name, passive=True)
                result = declared.declaration_result
                depths.append(
                    QueueDepth(name, result.message_count or 0, result.consumer_count or 0)
                )
        return Lines(partitions=depths[:-2], dead_letters=depths[-2], decisions=depths[-1])

    async def export_forever(self, interval: float = 2.0) -> None:
        """Keep the queue gauges of /metrics current, until cancelled."""
        while True:
            try:
                lines = await self.inspect()
            except DEPENDENCY_ERRORS as exc:
                log.warning("cannot inspect the queues", extra={"error": f"{exc!r}"})
            else:
                for partition, depth in enumerate(lines.partitions):
                    metrics.QUEUE_DEPTH.labels(str(partition)).set(depth.ready)
                    metrics.QUEUE_CONSUMERS.labels(str(partition)).set(depth.consumers)
                metrics.DEAD_LETTER_DEPTH.set(lines.dead_letters.ready)
            await asyncio.sleep(interval)
