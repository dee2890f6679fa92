"""Publishing that counts only what the broker confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange
from pamqp.commands import Basic

from shared.runtime.broker_nodes import FailoverChannel


class PublishFailed(aio_pika.exceptions.AMQPError):
    """The broker nacked, returned (unroutable) or did not confirm the message in time."""


async def publish_confirmed(
    exchange: AbstractExchange,
    body: bytes,
    routing_key: str,
    *,
    confirm_timeout: float,
    headers: Mapping[str, Any] | None = None,
) -> None:
    """Publish persistently and mandatorily; return only once the broker confirmed it.

    The exchange's channel must have publisher confirms on (``publisher_confirms=True``).
    """
    message = aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=dict(headers) if headers else None,
    )
    try:
        result = await exchange.publish(
            message, routing_key, mandatory=True, timeout=confirm_timeout
        )
    except aio_pika.exceptions.DeliveryError as exc:
        # A nack (e.g. a full queue with overflow=reject-publish) or a return (unroutable).
        channel = getattr(exchange, "channel", None)  # aio-pika's exchanges know theirs
        if isinstance(exc.frame, Basic.Nack) and isinstance(channel, FailoverChannel):
            await channel.nacked()
        raise PublishFailed(f"broker refused the message: {exc}") from exc
    except TimeoutError as exc:
        raise PublishFailed(f"no confirm within {confirm_timeout}s") from exc
    if not isinstance(result, Basic.Ack):
        # Returned as unroutable while the channel does not raise on returns.
        raise PublishFailed(f"message was not routed ({type(result).__name__})")
