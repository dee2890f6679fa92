"""Operator commands into a sale's line: published to its partition like any intent."""

from __future__ import annotations

from aio_pika.abc import AbstractExchange

from shared.contracts.messages import AddStock, CommandBatch, encode
from shared.contracts.topology import Names
from shared.runtime import request_ids
from shared.runtime.publishing import publish_confirmed


class AmqpCommandLine:
    def __init__(self, intents: AbstractExchange, names: Names, *, confirm_timeout: float):
        self._intents = intents
        self._names = names
        self._timeout = confirm_timeout

    async def enqueue(self, command: AddStock, request_id: str | None) -> None:
        await publish_confirmed(
            self._intents,
            encode(CommandBatch(commands=[command])),
            str(self._names.partition_of(command.sale_id)),
            confirm_timeout=self._timeout,
            headers=request_ids.message_headers([request_id]),
        )
