"""Publishing intents straight to the broker, as a gateway would, for consumer tests."""

from __future__ import annotations

from collections.abc import Sequence

import aio_pika

from shared.contracts.messages import Command, CommandBatch, encode
from shared.contracts.topology import Names, declare_topology
from shared.runtime.publishing import publish_confirmed


async def publish_intents(
    connection: aio_pika.abc.AbstractConnection,
    names: Names,
    messages: Sequence[Sequence[Command]],
) -> None:
    """Publish each group of commands as one message, in order, each confirmed."""
    async with connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
        topology = await declare_topology(channel, names)
        for commands in messages:
            partition = names.partition_of(commands[0].sale_id)
            await publish_confirmed(
                topology.intents,
                encode(CommandBatch(commands=list(commands))),
                str(partition),
                confirm_timeout=5,
            )
