"""Commands into a sale's line (a top-up, a released unit, closing the waitlist): published
to the sale's partition like any purchase, so they take effect at a well-defined place in it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from aio_pika.abc import AbstractExchange

from shared.contracts.messages import CommandBatch, LineCommand, encode
from shared.contracts.topology import Names
from shared.runtime import request_ids
from shared.runtime.publishing import publish_confirmed


class AmqpSaleLine:
    def __init__(self, intents: AbstractExchange, names: Names, *, confirm_timeout: float):
        self._intents = intents
        self._names = names
        self._timeout = confirm_timeout

    async def enqueue(self, command: LineCommand, request_id: str | None = None) -> None:
        """Return once the broker holds the command (confirmed); raise otherwise."""
        await publish_confirmed(
            self._intents,
            encode(CommandBatch(commands=[command])),
            str(self._names.partition_of(command.sale_id)),
            confirm_timeout=self._timeout,
            headers=request_ids.message_headers([request_id]),
        )

    async def enqueue_all(self, commands: Sequence[LineCommand]) -> None:
        """Many commands, one confirmed message per partition (in their order within it);
        return once the broker holds them all, raise otherwise."""
        by_partition: defaultdict[int, list[LineCommand]] = defaultdict(list)
        for command in commands:
            by_partition[self._names.partition_of(command.sale_id)].append(command)
        for partition, batch in by_partition.items():
            await publish_confirmed(
                self._intents,
                encode(CommandBatch(commands=list(batch))),
                str(partition),
                confirm_timeout=self._timeout,
            )
