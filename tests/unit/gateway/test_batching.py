"""The micro-batcher: what arrives together is flushed together, per key; outcomes per batch."""

from __future__ import annotations

import asyncio

import pytest

from gateway.batching import MicroBatcher


class Flushes:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.fail_for: set[str] = set()
        self.gate: asyncio.Event | None = None

    async def __call__(self, key: str, items: list[int]) -> None:
        self.batches.append((key, items))
        if self.gate is not None:
            await self.gate.wait()
        if key in self.fail_for:
            raise ConnectionError(key)


async def test_items_submitted_together_are_one_flush_per_key():
    flushes = Flushes()
    batcher = MicroBatcher(flushes, linger=0.005, max_batch=100)
    await asyncio.gather(*(batcher.submit("a" if i % 3 else "b", i) for i in range(9)))
    assert sorted(flushes.batches) == [("a", [1, 2, 4, 5, 7, 8]), ("b", [0, 3, 6])]


async def test_a_full_batch_goes_at_once_without_waiting_for_the_linger():
    flushes = Flushes()
    batcher = MicroBatcher(flushes, linger=60, max_batch=3)
    await asyncio.wait_for(asyncio.gather(*(batcher.submit("a", i) for i in range(3))), 1)
    assert flushes.batches == [("a", [0, 1, 2])]


async def test_while_flushes_are_in_flight_the_next_batch_grows():
    flushes = Flushes()
    flushes.gate = asyncio.Event()
    batcher = MicroBatcher(flushes, linger=0.001, max_batch=1000, max_in_flight=1)
    first = asyncio.create_task(batcher.submit("a", 0))
    await asyncio.sleep(0.01)
    rest = [asyncio.create_task(batcher.submit("a", i)) for i in range(1, 20)]
    await asyncio.sleep(0.01)
    assert len(flushes.batches) == 1  # the others wait for the first to land
    flushes.gate.set()
    await asyncio.gather(first, *rest)
    assert flushes.batches == [("a", [0]), ("a", list(range(1, 20)))]


async def test_a_failed_flush_fails_exactly_its_submitters():
    flushes = Flushes()
    flushes.fail_for = {"bad"}
    batcher = MicroBatcher(flushes, linger=0.001, max_batch=100)
    results = await asyncio.gather(
        batcher.submit("good", 1),
        batcher.submit("bad", 2),
        batcher.submit("bad", 3),
        return_exceptions=True,
    )
    assert results[0] is None
    assert [type(r) for r in results[1:]] == [ConnectionError, ConnectionError]


async def test_close_flushes_what_waits_and_waits_for_what_flies():
    flushes = Flushes()
    batcher = MicroBatcher(flushes, linger=60, max_batch=100)
    pending = asyncio.create_task(batcher.submit("a", 1))
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.close(), 1)
    await pending
    assert flushes.batches == [("a", [1])]


@pytest.mark.parametrize("max_batch", [1, 4])
async def test_no_batch_is_larger_than_max_batch(max_batch):
    flushes = Flushes()
    batcher = MicroBatcher(flushes, linger=0.001, max_batch=max_batch)
    await asyncio.gather(*(batcher.submit("a", i) for i in range(10)))
    assert all(len(items) <= max_batch for _, items in flushes.batches)
    assert sorted(i for _, items in flushes.batches for i in items) == list(range(10))
