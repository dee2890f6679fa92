"""Fake AMQP deliveries and a fake queue, for unit tests of consumers and batch handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeChannel:
    is_closed: bool = False


@dataclass
class FakeDelivery:
    """A delivered message: records how it was settled."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    channel: FakeChannel = field(default_factory=FakeChannel)
    settled: list[str] = field(default_factory=list)

    @property
    def processed(self) -> bool:
        return bool(self.settled)

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append("requeued" if requeue else "rejected")

    async def ack(self, multiple: bool = False) -> None:
        self.settled.append("acked (multiple)" if multiple else "acked")

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        self.settled.append("nacked")


@dataclass
class FakeQueue:
    """Hands each delivery to the consumer's callback, as aio-pika does (one task each)."""

    channel: FakeChannel = field(default_factory=FakeChannel)
    callback: Callable[[FakeDelivery], Awaitable[None]] | None = None
    cancelled: bool = False

    async def consume(self, callback: Callable[[FakeDelivery], Awaitable[None]]) -> str:
        self.callback = callback
        return "ctag"

    async def cancel(self, tag: str) -> None:
        self.cancelled = True

    async def deliver(self, *deliveries: FakeDelivery) -> None:
        assert self.callback is not None, "nobody consumes"
        for delivery in deliveries:
            delivery.channel = self.channel
            await self.callback(delivery)
