"""Reading queues in tests."""

from __future__ import annotations

import asyncio
import time

import aio_pika


async def wait_for_messages(
    connection: aio_pika.abc.AbstractConnection, queue_name: str, count: int, *, timeout: float = 10
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take ``count`` messages off a queue (acking them), waiting up to ``timeout``."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
        taken: list[aio_pika.abc.AbstractIncomingMessage] = []
        deadline = time.monotonic() + timeout
        while len(taken) < count and time.monotonic() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            taken.append(message)
        return taken
    finally:
        await channel.close()
