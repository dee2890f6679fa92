"""The sale feed's fan-out: one rendering per change, the same bytes to every stream, slow
readers skipped, closed ones dropped, every stream ended at shutdown."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from uuid import UUID, uuid4

from gateway.domain import SaleSnapshot
from gateway.entrypoints import streams
from gateway.entrypoints.streams import SaleFeed, _Subscriber
from tests.unit.gateway.fakes import FakeSales, open_sale


class FakeTransport:
    def __init__(self, *, buffered: int = 0, closing: bool = False) -> None:
        self.written: list[bytes] = []
        self.buffered = buffered
        self.closing = closing

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.written.append(data)


def _sale(remaining: int = 10) -> SaleSnapshot:
    return open_sale(uuid4(), remaining=remaining)


def _subscribe(feed: SaleFeed, sale: SaleSnapshot, transport: FakeTransport) -> _Subscriber:
    subscriber = _Subscriber(transport, asyncio.get_running_loop().create_future())  # type: ignore[arg-type]
    feed._subscribers.setdefault(sale.sale_id, set()).add(subscriber)
    return subscriber


async def test_a_change_is_rendered_once_and_the_same_bytes_go_to_every_ready_stream() -> None:
    sale = _sale()
    sales = FakeSales(sale)
    feed = SaleFeed(sales, interval=0.05)
    rendered: list[SaleSnapshot] = []
    render = SaleFeed.render

    def counted(snapshot: SaleSnapshot, now: int | None = None) -> bytes:
        rendered.append(snapshot)
        return render(snapshot, now)

    feed.render = counted  # type: ignore[method-assign]
    ready = [FakeTransport() for _ in range(50)]
    slow = FakeTransport(buffered=10**6)
    gone = FakeTransport(closing=True)
    for transport in [*ready, slow, gone]:
        _subscribe(feed, sale, transport)
    sales.sales[sale.sale_id] = replace(sale, version=2, remaining=4)
    await feed._round()
    assert len(rendered) == 1
    payloads = {t.written[0] for t in ready}
    assert len(payloads) == 1 and b'"remaining":4' in next(iter(payloads))
    assert slow.written == []  # skipped: it gets the next, newer value
    assert len(feed._subscribers[sale.sale_id]) == 51  # the closed one is dropped
    await feed._round()  # nothing changed: nothing sent
    assert all(len(t.written) == 1 for t in ready)


async def test_shutdown_ends_every_stream_and_the_wait_grows_with_a_slow_round() -> None:
    sale = _sale()
    feed = SaleFeed(FakeSales(sale), interval=0.05)
    subscribers = [_subscribe(feed, sale, FakeTransport()) for _ in range(10)]
    slow_round = feed._round

    async def taking_a_while() -> None:
        await slow_round()
        time.sleep(0.1)  # as a round of writes to many thousand sockets does

    feed._round = taking_a_while  # type: ignore[method-assign]
    running = asyncio.create_task(feed.run())
    deadline = time.monotonic() + 10
    while feed.wait == 0.05 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    # Fan-out keeps to its share of the process: a 0.1 s round, then at least 0.3 s of rest.
    assert feed.wait >= 0.1 * (1 - streams.FANOUT_SHARE) / streams.FANOUT_SHARE
    feed.closing.set()
    await asyncio.wait_for(running, 10)
    assert all(s.done.done() for s in subscribers)
    assert feed._subscribers == {}


async def test_a_failed_round_does_not_stop_the_feed_and_a_cancelled_feed_ends_its_streams() -> (
    None
):
    sale = _sale()
    sales = FakeSales(sale)
    feed = SaleFeed(sales, interval=0.05)
    transport = FakeTransport()
    subscriber = _subscribe(feed, sale, transport)
    failures = 0
    get = sales.get

    async def failing_once(sale_id: UUID) -> SaleSnapshot | None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise ConnectionError("redis went away")
        return await get(sale_id)

    sales.get = failing_once  # type: ignore[method-assign]
    sales.sales[sale.sale_id] = replace(sale, version=2, remaining=3)
    running = asyncio.create_task(feed.run())
    deadline = time.monotonic() + 10
    while not transport.written and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert failures == 1
    assert b'"remaining":3' in transport.written[0]
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert subscriber.done.done()
