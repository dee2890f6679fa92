"""Sold out is answered at once by every gateway, and flips back when stock is added."""

import asyncio
import time

import pytest

from tests.support.api import Api

pytestmark = pytest.mark.e2e


async def wait_state(api: Api, sale_id: str, state: str, timeout: float = 5) -> float:
    """Seconds until this gateway reports ``state`` for the sale."""
    started = time.monotonic()
    while True:
        reply = await api.call("GET", f"/api/v1/sales/{sale_id}")
        if reply.body["state"] == state:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"still {reply.body['state']} after {timeout}s")
        await asyncio.sleep(0.005)


async def test_sold_out_short_circuit_flips_back_on_top_up(stack, api, admin_token):
    second = stack.replica(stack.gateway, "gateway-b")
    await second.restart()
    api_b = Api(api.session, second.url)
    alice, bob, carol, dave = await asyncio.gather(
        *(api.user(name) for name in ("alice", "bob", "carol", "dave"))
    )
    sale = await api.create_sale(admin_token, stock=2)
    sale_id = sale["sale_id"]
    for token in (alice, bob):
        ticket = (await api.purchase(token, sale_id)).body["ticket_id"]
        assert (await api.wait_final(token, ticket))["status"] == "confirmed"

    await asyncio.gather(
        wait_state(api, sale_id, "sold_out"), wait_state(api_b, sale_id, "sold_out")
    )
    for gateway in (api, api_b):
        reply = await gateway.purchase(carol, sale_id)
        assert (reply.status, reply.body["error"]["code"]) == (409, "sold_out")
    stats = await api.call("GET", f"/api/v1/admin/sales/{sale_id}/stats", token=admin_token)
    assert stats.body["rejected"] == 0, "a sold-out answer must not enqueue anything"

    topped = await api.call(
        "POST", f"/api/v1/admin/sales/{sale_id}/stock", token=admin_token, json={"add": 1}
    )
    assert topped.status == 200, topped
    assert (topped.body["status"], topped.body["stock"], topped.body["remaining"]) == (
        "applied",
        3,
        1,
    )
    # Both gateways learn it (through the published update) well within a second.
    flips = await asyncio.gather(
        wait_state(api, sale_id, "active", timeout=1),
        wait_state(api_b, sale_id, "active", timeout=1),
    )
    assert max(flips) < 1

    reply = await api_b.purchase(carol, sale_id)
    assert reply.status == 202
    assert (await api_b.wait_final(carol, reply.body["ticket_id"]))["status"] == "confirmed"
    await wait_state(api, sale_id, "sold_out")
    reply = await api.purchase(dave, sale_id)
    assert (reply.status, reply.body["error"]["code"]) == (409, "sold_out")


async def test_top_up_input_and_access(api, admin_token):
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=1)
    path = f"/api/v1/admin/sales/{sale['sale_id']}/stock"
    assert (await api.call("POST", path, token=alice, json={"add": 1})).status == 403
    for bad in ({"add": 0}, {"add": "1"}, {"add": 1, "x": 2}, {}):
        assert (await api.call("POST", path, token=admin_token, json=bad)).status == 422
    missing = "/api/v1/admin/sales/00000000-0000-0000-0000-000000000000/stock"
    assert (await api.call("POST", missing, token=admin_token, json={"add": 1})).status == 404


async def test_operator_overview_shows_lines_and_sales(api, admin_token, stack):
    sale = await api.create_sale(admin_token, stock=3)
    buyer = await api.user("buyer")
    ticket = (await api.purchase(buyer, sale["sale_id"])).body["ticket_id"]
    await api.wait_final(buyer, ticket)
    assert (await api.call("GET", "/api/v1/admin/overview", token=buyer)).status == 403
    reply = await api.call("GET", "/api/v1/admin/overview", token=admin_token)
    assert reply.status == 200
    body = reply.body
    assert [p["partition"] for p in body["partitions"]] == list(range(len(body["partitions"])))
    assert all(p["consumers"] >= 1 for p in body["partitions"])  # the inventory consumes all
    assert body["dead_letters"] == 0
    [row] = [s for s in body["sales"] if s["sale_id"] == sale["sale_id"]]
    assert (row["stock"], row["remaining"], row["accepted"], row["waiting"]) == (3, 2, 1, 0)
    metrics = await (await api.session.get(f"{stack.inventory.url}/metrics")).text()
    assert 'intent_queue_consumers{partition="0"}' in metrics
    assert "dead_letter_queue_depth" in metrics
