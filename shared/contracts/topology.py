"""AMQP topology, declared in exactly one place.

Queue arguments cannot change after a queue exists (the broker answers 406), so every
process declares the same topology through :func:`declare_topology` and nothing else
declares queues.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.contracts.settings import ServiceSettings

# A message that keeps coming back (its consumer crashes on it) is dead-lettered after this
# many deliveries, so one bad message cannot stop a partition for ever.
DELIVERY_LIMIT = 10


@dataclass(frozen=True)
class Names:
    """Exchange and queue names of one namespace, and the shape of its queues.

    Every declarer builds it from the same settings (:meth:`of`): queue arguments are part of
    the topology, and one process declaring another bound makes the broker refuse the rest.
    """

    namespace: str
    partitions: int
    intent_queue_max_length: int = 100_000
    quorum_group_size: int = 3

    @classmethod
    def of(cls, settings: ServiceSettings) -> Names:
        return cls(
            settings.namespace,
            settings.intent_partitions,
            settings.intent_queue_max_length,
            settings.amqp_quorum_group_size,
        )

    @property
    def intents_exchange(self) -> str:
        return f"{self.namespace}.intents"

    def intents_queue(self, partition: int) -> str:
        return f"{self.namespace}.intents.{partition}"

    @property
    def decisions_exchange(self) -> str:
        return f"{self.namespace}.decisions"

    @property
    def decisions_queue(self) -> str:
        return f"{self.namespace}.decisions"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letters"

    def partition_of(self, sale_id: UUID) -> int:
        return partition_of(sale_id, self.partitions)


def partition_of(sale_id: UUID, partitions: int) -> int:
    """Stable partition of a sale: the same in every process and across restarts."""
    # crc32, not hash(): Python's str hash is salted per process.
    return zlib.crc32(sale_id.bytes) % partitions


@dataclass(frozen=True)
class Topology:
    intents: AbstractExchange
    decisions: AbstractExchange
    intent_queues: tuple[AbstractQueue, ...]
    decisions_queue: AbstractQueue
    dead_letters: AbstractQueue


def _replicated(names: Names) -> dict[str, Any]:
    """A quorum queue on ``quorum_group_size`` nodes: it survives losing a minority of them.

    The group is chosen when the queue is declared, among the nodes in the cluster then;
    a node that joins later holds no copy until an operator grows the queue onto it
    (``rabbitmq-queues grow``; docs/SCALING.md).
    """
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    if names.quorum_group_size:
        arguments["x-quorum-initial-group-size"] = names.quorum_group_size
    return arguments


def _quorum_args(names: Names, **extra: Any) -> dict[str, Any]:
    return {
        **_replicated(names),
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": names.dead_letter_exchange,
        **extra,
    }


async def declare_topology(channel: AbstractChannel, names: Names) -> Topology:
    """Declare (idempotently) every exchange and queue of the namespace."""
    dlx = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_letters = await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments=_replicated(names)
    )
    await dead_letters.bind(dlx)

    intents = await channel.declare_exchange(
        names.intents_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    intent_queues = []
    for partition in range(names.partitions):
        queue = await channel.declare_queue(
            names.intents_queue(partition),
            durable=True,
            arguments=_quorum_args(
                names,
                # One consumer at a time decides a partition: that is what makes FIFO real
                # while standby replicas wait to take over.
                **{
                    "x-single-active-consumer": True,
                    # A hard bound on a partition (in batches); the broker nacks publishes
                    # once the queue is over it (a quorum queue lets one more in), and the
                    # gateway answers 503 instead of a ticket.
                    "x-max-length": names.intent_queue_max_length,
                    "x-overflow": "reject-publish",
                },
            ),
        )
        await queue.bind(intents, routing_key=str(partition))
        intent_queues.append(queue)

    decisions = await channel.declare_exchange(
        names.decisions_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    decisions_queue = await channel.declare_queue(
        names.decisions_queue, durable=True, arguments=_quorum_args(names)
    )
    await decisions_queue.bind(decisions, routing_key="decisions")
    return Topology(intents, decisions, tuple(intent_queues), decisions_queue, dead_letters)


async def delete_topology(channel: AbstractChannel, names: Names) -> None:
    """Remove every queue and exchange of a namespace (tests and `make clean` use it)."""
    queues = [names.intents_queue(p) for p in range(names.partitions)]
    queues += [names.decisions_queue, names.dead_letter_queue]
    for queue in queues:
        await channel.queue_delete(queue)
    for exchange in (names.intents_exchange, names.decisions_exchange, names.dead_letter_exchange):
        await channel.exchange_delete(exchange)
