"""The batching consumer on a fake queue: order, batches, acks, retries, hand-backs, stop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shared.runtime.consuming import BatchConsumer
from tests.support.deliveries import FakeDelivery, FakeQueue


class Handler:
    """Records each batch it is called with; ``errors`` are raised by the next calls."""

    def __init__(self, *errors: BaseException, reject: tuple[bytes, ...] = ()) -> None:
        self.batches: list[list[bytes]] = []
        self.errors = list(errors)
        self.reject = reject
        self.called = asyncio.Event()

    async def __call__(self, batch) -> None:
        self.batches.append([m.body for m in batch])
        self.called.set()
        for message in batch:
            if message.body in self.reject:
                await message.reject(requeue=False)
        if self.errors:
            raise self.errors.pop(0)


async def running(handler: Handler, *, max_batch: int = 10):
    queue = FakeQueue()
    consumer = BatchConsumer(
        cast(Any, queue), handler, max_batch=max_batch, name="q", retry_delay=0.001
    )
    task = asyncio.create_task(consumer.run())
    while queue.callback is None:
        await asyncio.sleep(0)
    return queue, consumer, task


async def settle(handler: Handler, calls: int) -> None:
    async with asyncio.timeout(2):
        while len(handler.batches) < calls:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # let the acks land


def deliveries(*bodies: str) -> list[FakeDelivery]:
    return [FakeDelivery(body.encode()) for body in bodies]


async def stop(consumer: BatchConsumer, task: asyncio.Task) -> None:
    await consumer.stop()
    await asyncio.wait_for(task, 2)


async def test_everything_delivered_so_far_is_one_batch_in_order_acked_once():
    handler = Handler()
    queue, consumer, task = await running(handler, max_batch=3)
    messages = deliveries("a", "b", "c", "d", "e")
    await queue.deliver(*messages)  # all buffered before the loop runs again
    await settle(handler, 2)
    assert handler.batches == [[b"a", b"b", b"c"], [b"d", b"e"]]
    # One multiple-ack per batch, on its last message.
    assert [m.settled for m in messages] == [[], [], ["acked (multiple)"], [], ["acked (multiple)"]]
    await stop(consumer, task)


async def test_poison_is_settled_by_the_handler_and_the_ack_ends_on_an_open_message():
    handler = Handler(reject=(b"c",))
    queue, consumer, task = await running(handler)
    messages = deliveries("a", "b", "c")
    await queue.deliver(*messages)
    await settle(handler, 1)
    assert [m.settled for m in messages] == [[], ["acked (multiple)"], ["rejected"]]
    await stop(consumer, task)


async def test_a_dependency_failure_retries_the_same_batch_in_order():
    handler = Handler(ConnectionError("redis went away"), TimeoutError())
    queue, consumer, task = await running(handler)
    messages = deliveries("a", "b")
    await queue.deliver(*messages)
    await settle(handler, 3)
    assert handler.batches == [[b"a", b"b"]] * 3  # kept, never reordered or handed back
    assert [m.settled for m in messages] == [[], ["acked (multiple)"]]
    await stop(consumer, task)


async def test_a_crashing_handler_hands_the_batch_back_and_the_line_moves_on():
    handler = Handler(ValueError("a bug"))
    queue, consumer, task = await running(handler)
    first = deliveries("a", "b")
    await queue.deliver(*first)
    await settle(handler, 1)
    assert [m.settled for m in first] == [["nacked"], ["nacked"]]  # redelivered by the broker
    later = deliveries("c")
    await queue.deliver(*later)
    await settle(handler, 2)
    assert later[0].settled == ["acked (multiple)"]
    await stop(consumer, task)


async def test_messages_of_a_closed_channel_are_not_handled():
    handler = Handler()
    queue, consumer, task = await running(handler)
    queue.channel.is_closed = True  # the broker will redeliver them on a new channel
    await queue.deliver(*deliveries("a"))
    await asyncio.sleep(0.05)
    assert handler.batches == []
    await stop(consumer, task)


async def test_stop_finishes_the_batch_in_hand_and_gives_back_the_rest():
    handler = Handler()
    queue, consumer, task = await running(handler, max_batch=1)
    gate = asyncio.Event()

    async def slow(batch):
        handler.batches.append([m.body for m in batch])
        await gate.wait()

    consumer._handler = slow  # the first batch is in hand while more arrive
    messages = deliveries("a", "b", "c")
    await queue.deliver(*messages)
    await settle(handler, 1)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.01)
    gate.set()
    await stopping
    await asyncio.wait_for(task, 2)
    assert queue.cancelled
    assert messages[0].settled == ["acked (multiple)"]  # the batch in hand is finished
    assert [m.settled for m in messages[1:]] == [["nacked"], ["nacked"]]


@pytest.mark.parametrize("max_batch", [1, 2])
async def test_batches_never_exceed_the_prefetch(max_batch):
    handler = Handler()
    queue, consumer, task = await running(handler, max_batch=max_batch)
    await queue.deliver(*deliveries("a", "b", "c", "d"))
    await settle(handler, 4 // max_batch)
    assert all(len(batch) <= max_batch for batch in handler.batches)
    assert [b for batch in handler.batches for b in batch] == [b"a", b"b", b"c", b"d"]
    await stop(consumer, task)
