"""Server-sent events: sale stock and state, and tickets until final; they agree with polls."""

import asyncio
import time

import aiohttp
import pytest

from tests.support.api import Api
from tests.support.sse import Event, events

pytestmark = pytest.mark.e2e


async def collect_sale_events(api: Api, sale_id: str, until_state: str, out: list[Event]) -> None:
    async with api.session.get(f"{api.base}/api/v1/sales/{sale_id}/events") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        async for event in events(resp):
            out.append(event)
            if event.data["state"] == until_state:
                return


async def test_sale_stream_is_ordered_coalesced_and_ends_on_the_final_value(
    stack, api, admin_token
):
    # Events come from a second gateway while purchases go through the first: fan-out works
    # across replicas through Redis pub/sub.
    second = stack.replica(stack.gateway, "gateway-b")
    await second.restart()
    watcher = Api(api.session, second.url)
    stock = 60
    sale = await api.create_sale(admin_token, stock=stock, per_user_limit=stock)
    sale_id = sale["sale_id"]
    buyer = await api.user("buyer")
    seen: list[Event] = []
    watching = asyncio.create_task(collect_sale_events(watcher, sale_id, "sold_out", seen))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    for _ in range(stock):  # one at a time: 60 separate decisions
        reply = await api.purchase(buyer, sale_id)
        assert reply.status == 202
    await asyncio.wait_for(watching, 15)
    elapsed = time.monotonic() - started

    assert seen[0].kind == "sale"
    assert seen[0].data["remaining"] == stock  # a snapshot first
    remaining = [e.data["remaining"] for e in seen]
    versions = [int(e.id or 0) for e in seen]
    assert remaining == sorted(remaining, reverse=True), "out of order"
    assert versions == sorted(versions)
    assert seen[-1].data["remaining"] == 0  # the final value is always delivered
    assert seen[-1].data["state"] == "sold_out"
    # Coalesced: at most one event per ~200 ms window (plus the snapshot), not one per decision.
    assert len(seen) <= elapsed / 0.2 + 3
    assert len(seen) < stock
    # The stream agrees with polling.
    polled = (await api.call("GET", f"/api/v1/sales/{sale_id}")).body
    assert {k: polled[k] for k in ("remaining", "state")} == {
        k: seen[-1].data[k] for k in ("remaining", "state")
    }


async def test_a_reconnect_starts_with_a_fresh_snapshot(api, admin_token):
    sale = await api.create_sale(admin_token, stock=5)
    buyer = await api.user("buyer")
    first: list[Event] = []
    await asyncio.wait_for(collect_sale_events(api, sale["sale_id"], "active", first), 5)
    ticket = (await api.purchase(buyer, sale["sale_id"])).body["ticket_id"]
    await api.wait_final(buyer, ticket)
    async with api.session.get(
        f"{api.base}/api/v1/sales/{sale['sale_id']}/events",
        headers={"Last-Event-ID": first[0].id},
    ) as resp:
        snapshot = await anext(events(resp))
    assert snapshot.data["remaining"] == 4
    assert int(snapshot.id or 0) > int(first[0].id or 0)


async def test_ticket_stream_follows_the_ticket_and_its_order_until_final_and_agrees_with_polls(
    stack, api, admin_token
):
    sale = await api.create_sale(admin_token, stock=10, per_user_limit=10)
    alice, bob = await asyncio.gather(api.user("alice"), api.user("bob"))
    # With the decider stopped, tickets wait in line: their positions are visible.
    stack.inventory.stop()
    tickets = [(await api.purchase(alice, sale["sale_id"])).body["ticket_id"] for _ in range(3)]
    polled = [(await api.ticket(alice, t)).body for t in tickets]
    assert [p["status"] for p in polled] == ["queued"] * 3
    assert [p["position"] for p in polled] == [1, 2, 3]

    path = f"/api/v1/tickets/{tickets[2]}/events"
    assert (await api.call("GET", path, token=bob)).status == 404  # owner only
    assert (await api.call("GET", path)).status == 401
    seen: list[Event] = []

    async def follow() -> None:
        async with api.session.get(
            api.base + path, headers={"Authorization": f"Bearer {alice}"}
        ) as resp:
            assert resp.status == 200
            async for event in events(resp):  # ends when the server closes the stream
                seen.append(event)
                if event.data["order_status"] == "awaiting_payment":  # won: pay, it goes on
                    paid = await api.pay(alice, event.data["order_id"])
                    assert paid.status == 202, paid

    following = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    await stack.inventory.restart()
    await asyncio.wait_for(following, 20)

    assert seen[0].data == polled[2]  # the same object as a poll
    statuses = [e.data["status"] for e in seen]
    assert statuses[-1] == "confirmed"
    assert statuses == sorted(statuses, key=["queued", "accepted", "confirmed"].index)
    orders = [e.data["order_status"] for e in seen if e.data["status"] == "confirmed"]
    assert orders == ["awaiting_payment", "paid"]  # the order's change came through too
    assert seen[-1].data == (await api.ticket(alice, tickets[2])).body
    assert all(e.data["position"] is None for e in seen if e.data["status"] != "queued")


async def test_a_stream_for_an_unknown_sale_or_a_bad_id_is_404(api):
    for sale_id in ("00000000-0000-0000-0000-000000000000", "nope"):
        reply = await api.call("GET", f"/api/v1/sales/{sale_id}/events")
        assert reply.status == 404
        assert reply.body["error"]["code"] == "not_found"


async def test_open_streams_are_counted_in_metrics(api, admin_token, stack):
    sale = await api.create_sale(admin_token, stock=5)
    async with aiohttp.ClientSession() as session:
        responses = [
            await session.get(f"{api.base}/api/v1/sales/{sale['sale_id']}/events") for _ in range(3)
        ]
        await asyncio.sleep(0.2)
        metrics = await (await session.get(f"{stack.gateway.url}/metrics")).text()
        for resp in responses:
            resp.close()
    assert 'sse_streams_open{stream="sale"} 3.0' in metrics
