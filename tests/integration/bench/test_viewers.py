"""The bench's viewers (worker processes, each from its own loopback address) on the gateway's
sale feed: every stream gets a snapshot first and ends on the last value; a shutdown ends
them all; the last change is timed from the sale-updates channel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from bench import stream_load
from bench.stream_load import Viewers
from gateway.domain import SaleSnapshot
from gateway.entrypoints.streams import SaleFeed
from shared.runtime.launcher import free_port
from tests.support.servers import Servers
from tests.unit.gateway.fakes import FakeSales, open_sale

STREAMS = 300


def _sale(sale_id: UUID, remaining: int, version: int) -> SaleSnapshot:
    return open_sale(sale_id, remaining=remaining, version=version)


@pytest.fixture
async def feed_server() -> AsyncIterator[tuple[int, SaleFeed, FakeSales, UUID]]:
    sale_id = uuid4()
    sales = FakeSales(_sale(sale_id, 10, 1))
    feed = SaleFeed(sales, interval=0.05)

    async def events(request: web.Request) -> web.StreamResponse:
        return await feed.stream(request, UUID(request.match_info["sale_id"]))

    app = web.Application()
    app.router.add_get("/api/v1/sales/{sale_id}/events", events)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    running = asyncio.create_task(feed.run())
    try:
        yield port, feed, sales, sale_id
    finally:
        feed.closing.set()
        await asyncio.wait_for(running, 10)
        await runner.cleanup()


async def _until(viewers: Viewers, final: int, check: str, wanted: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        seen = await viewers.summary(final_remaining=final)
        if seen[check] == wanted or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.2)


async def test_viewers_see_a_snapshot_first_end_on_the_last_value_and_end_at_shutdown(
    servers: Servers,
    feed_server: tuple[int, SaleFeed, FakeSales, UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, feed, sales, sale_id = feed_server
    monkeypatch.setattr(stream_load, "PER_WORKER", 120)  # three workers, three source addresses
    channel = f"test-sale-updates-{uuid4().hex}"
    publisher = aioredis.Redis.from_url(servers.redis_url, decode_responses=True, protocol=2)
    try:
        async with Viewers(
            "127.0.0.1", port, str(sale_id), STREAMS, redis_url=servers.redis_url, channel=channel
        ) as viewers:
            assert len(viewers.workers) == 3
            assert sum(o["opened"] for o in viewers.opened) == STREAMS
            first = await _until(viewers, 10, "with_final_value", STREAMS)
            assert first["with_final_value"] == STREAMS  # the snapshot, before any change
            for version, remaining in enumerate((7, 3, 0), start=2):
                sales.sales[sale_id] = replace(
                    sales.sales[sale_id], version=version, remaining=remaining
                )
                await publisher.publish(
                    channel,
                    json.dumps(
                        {"sale_id": str(sale_id), "version": version, "remaining": remaining}
                    ),
                )
                await asyncio.sleep(0.01)  # quicker than the feed: some values are coalesced
            seen = await _until(viewers, 0, "with_final_value", STREAMS)
            assert seen["opened"] == STREAMS
            assert seen["failed"] == 0, seen["errors"]
            assert seen["with_final_value"] == STREAMS
            assert seen["updates_published"] == 3
            assert 0 <= seen["fanout_p99_s"] < 60  # measured from the last change: finite
            feed.closing.set()  # as the gateway's shutdown does
            ended = await _until(viewers, 0, "failed", STREAMS)
            assert ended["failed"] == STREAMS
            assert ended["errors"] == {"ended: ended by the server": STREAMS}
    finally:
        await publisher.aclose()


async def test_a_sale_that_does_not_exist_counts_as_failed_streams(
    servers: Servers, feed_server: tuple[int, SaleFeed, FakeSales, UUID]
) -> None:
    port, *_ = feed_server
    async with Viewers(
        "127.0.0.1", port, str(uuid4()), 5, redis_url=servers.redis_url, channel="unused"
    ) as viewers:
        seen = await viewers.summary(final_remaining=0)
    assert seen["opened"] == 0
    assert seen["failed"] == 5
