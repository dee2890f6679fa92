"""The sale feed's fan-out: one rendering per change, the same bytes to every stream, slow
readers skipped, closed ones dropped, every stream ended at shutdown; a long wait between
rounds holds while changes keep coming, and the last one goes out once they stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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


class TimedTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def write(self, data: bytes) -> None:
        super().write(data)
        self.at.append(time.monotonic())


def _heavy_first_round(feed: SaleFeed, *, sleep: float = 0.0, cpu: float = 0.0) -> list[float]:
    """The feed's first round takes ``sleep`` s of wall clock without running (a busy machine)
    and ``cpu`` s of CPU (writes); returns a list that gets the time that round ended."""
    ended: list[float] = []
    plain = feed._round

    async def heavy() -> None:
        await plain()
        if not ended:
            time.sleep(sleep)
            started = time.thread_time()
            while time.thread_time() - started < cpu:
                pass
            ended.append(time.monotonic())

    feed._round = heavy  # type: ignore[method-assign]
    return ended


async def _until(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_the_last_change_goes_out_once_quiet_without_the_rest_of_a_long_wait() -> None:
    sale = _sale()
    sales = FakeSales(sale)
    feed = SaleFeed(sales, interval=0.05)
    transport = TimedTransport()
    _subscribe(feed, sale, transport)
    ended = _heavy_first_round(feed, sleep=1.0)  # 1 s of wall clock, ~no CPU
    running = asyncio.create_task(feed.run())
    try:
        await _until(lambda: bool(ended))
        assert feed.wait >= 1.0 * (1 - streams.FANOUT_SHARE) / streams.FANOUT_SHARE
        assert feed.rest < 0.2  # from the round's CPU
        sales.sales[sale.sale_id] = replace(sale, version=2, remaining=0)  # and nothing after
        await _until(lambda: len(transport.written) == 2)
        lag = transport.at[1] - ended[0]
        assert streams.QUIET_SECONDS <= lag < 1.0, lag  # not the 1.5 s wait
        assert b'"remaining":0' in transport.written[1]
        assert feed.trailing_rounds == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_while_changes_keep_coming_the_wait_holds() -> None:
    sale = _sale()
    sales = FakeSales(sale)
    feed = SaleFeed(sales, interval=0.05)
    transport = TimedTransport()
    _subscribe(feed, sale, transport)
    ended = _heavy_first_round(feed, sleep=0.8)  # a 1.2 s wait
    running = asyncio.create_task(feed.run())
    try:
        await _until(lambda: bool(ended))
        wait = feed.wait
        for version in range(2, 2 + int(wait / 0.02)):  # a new decision every 20 ms
            sales.sales[sale.sale_id] = replace(sale, version=version)
            await asyncio.sleep(0.02)
        await _until(lambda: len(transport.written) == 2)
        assert transport.at[1] - ended[0] >= wait - 0.05
        assert feed.trailing_rounds == 0
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_trailing_round_still_waits_its_share_of_the_rounds_cpu() -> None:
    sale = _sale()
    sales = FakeSales(sale)
    feed = SaleFeed(sales, interval=0.05)
    transport = TimedTransport()
    _subscribe(feed, sale, transport)
    ended = _heavy_first_round(feed, cpu=0.3)  # writes that cost 0.3 s of CPU
    running = asyncio.create_task(feed.run())
    try:
        await _until(lambda: bool(ended))
        rest = 0.3 * (1 - streams.FANOUT_SHARE) / streams.FANOUT_SHARE
        assert feed.rest >= rest
        sales.sales[sale.sale_id] = replace(sale, version=2, remaining=0)  # quiet at once
        await _until(lambda: len(transport.written) == 2)
        assert transport.at[1] - ended[0] >= rest - 0.01
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
