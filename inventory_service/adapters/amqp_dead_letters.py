"""The dead-letter queue, read by an operator's command: take each message, and either move
part of it back to the lines (then ack it) or leave it where it is.

Nothing read is settled until what replaces it is confirmed by the broker, so a crash at any
point loses nothing: an unacked message comes back to the dead-letter queue when the channel
closes (at worst a purchase is moved twice, and the decider answers its second copy with the
decision it stored for the first). Messages left alone are not touched at all: they return when
the channel closes, in their place, with their headers (x-death included).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from inventory_service.dead_letters import REASON_HEADER, DeadLetter, Requeue
from shared.contracts.messages import CommandBatch, PoisonMessage, decode_commands, encode
from shared.contracts.topology import Names
from shared.runtime import request_ids as ids
from shared.runtime.publishing import publish_confirmed


class AmqpDeadLetters:
    """One pass over the dead-letter queue on a channel of its own (with publisher confirms)."""

    def __init__(
        self,
        channel: AbstractChannel,
        queue: AbstractQueue,
        intents: AbstractExchange,
        dead_letters: AbstractExchange,
        names: Names,
        *,
        confirm_timeout: float,
    ) -> None:
        self._channel = channel
        self._queue = queue
        self._intents = intents
        self._dead_letters = dead_letters
        self._names = names
        self._timeout = confirm_timeout
        self._held: dict[int, AbstractIncomingMessage] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(
        cls, connection: AbstractRobustConnection, names: Names, *, confirm_timeout: float
    ) -> AsyncIterator[AmqpDeadLetters]:
        """A pass; closing it gives back every message read and not moved."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            yield cls(
                channel,
                await channel.declare_queue(names.dead_letter_queue, passive=True),
                await channel.get_exchange(names.intents_exchange),
                await channel.get_exchange(names.dead_letter_exchange),
                names,
                confirm_timeout=confirm_timeout,
            )
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def read(self) -> AsyncIterator[DeadLetter]:
        """Every message that was in the queue when the pass began, in queue order, held
        unacked: none is read twice, and the rest of a moved message (put back at the end
        of the queue) is not read again."""
        for _ in range(self._queue.declaration_result.message_count or 0):
            message = await self._queue.get(no_ack=False, fail=False)
            if message is None:
                return
            assert message.delivery_tag is not None  # a basic.get without no_ack has one
            self._held[message.delivery_tag] = message
            yield _letter(message)

    async def move(self, letter: DeadLetter, requeue: Requeue) -> None:
        """Publish its purchases to their partitions and its rest back to the dead letters,
        each confirmed; only then ack the original. Raises PublishFailed, leaving it held."""
        message = self._held[letter.delivery_tag]
        by_partition: defaultdict[int, list[int]] = defaultdict(list)
        for i, purchase in enumerate(requeue.back):
            by_partition[self._names.partition_of(purchase.sale_id)].append(i)
        for partition, items in by_partition.items():
            await publish_confirmed(
                self._intents,
                encode(CommandBatch(commands=[requeue.back[i] for i in items])),
                str(partition),
                confirm_timeout=self._timeout,
                headers=ids.message_headers([requeue.back_ids[i] for i in items]),
            )
        if requeue.kept:
            await publish_confirmed(
                self._dead_letters,
                encode(CommandBatch(commands=list(requeue.kept))),
                "",
                confirm_timeout=self._timeout,
                headers={REASON_HEADER: letter.reason, **ids.message_headers(requeue.kept_ids)},
            )
        await message.ack()
        del self._held[letter.delivery_tag]


def _letter(message: AbstractIncomingMessage) -> DeadLetter:
    assert message.delivery_tag is not None
    reason = message.headers.get(REASON_HEADER)
    if isinstance(reason, bytes):  # aiormq may hand header strings back as bytes
        reason = reason.decode("utf-8", "replace")
    try:
        commands: tuple[Any, ...] | None = tuple(decode_commands(message.body).commands)
    except PoisonMessage:
        commands = None
    count = len(commands) if commands else 0
    return DeadLetter(
        delivery_tag=message.delivery_tag,
        reason=reason if isinstance(reason, str) else None,
        commands=commands,
        request_ids=tuple(ids.from_message(message.headers, count)),
    )
