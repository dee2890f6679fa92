"""What buyers and admins see at the edges: windows, idempotency, ownership, bad input."""

import asyncio
from datetime import timedelta

import pytest

pytestmark = pytest.mark.e2e


async def test_window_ownership_and_auth_errors(api, admin_token):
    alice, bob = await asyncio.gather(api.user("alice"), api.user("bob"))
    later = await api.create_sale(admin_token, stock=5, starts_in=timedelta(hours=1))
    assert later["state"] == "scheduled"
    reply = await api.purchase(alice, later["sale_id"])
    assert (reply.status, reply.body["error"]["code"]) == (409, "sale_not_active")

    sale = await api.create_sale(admin_token, stock=5)
    ticket = (await api.purchase(alice, sale["sale_id"])).body["ticket_id"]
    final = await api.wait_final(alice, ticket)
    assert final["status"] == "confirmed"
    assert final["sale_id"] == sale["sale_id"]
    # Another user's ticket does not exist for them; neither does a malformed id.
    assert (await api.ticket(bob, ticket)).status == 404
    assert (await api.ticket(alice, "not-a-uuid")).status == 404
    assert (await api.purchase(alice, "not-a-uuid")).status == 404
    assert (await api.purchase(alice, "00000000-0000-0000-0000-000000000000")).status == 404
    assert (await api.call("GET", "/api/v1/orders", token=bob)).body == []

    # Tokens: none, garbage, a user on an admin route.
    assert (await api.purchase("", sale["sale_id"])).status == 401
    assert (await api.purchase("garbage", sale["sale_id"])).status == 401
    stats = f"/api/v1/admin/sales/{sale['sale_id']}/stats"
    assert (await api.call("GET", stats, token=alice)).status == 403
    create = await api.call("POST", "/api/v1/admin/sales", token=alice, json={})
    assert create.status == 403


async def test_bad_input_is_a_clear_4xx(api, admin_token):
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=5)
    path = f"/api/v1/sales/{sale['sale_id']}/purchases"
    headers = {"Authorization": f"Bearer {alice}"}
    async with api.session.post(api.base + path, data=b"{nope", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "malformed_json"
    reply = await api.call("POST", path, token=alice, json={"quantity": 2})
    assert reply.status == 422
    async with api.session.post(
        api.base + path, data=b"{}" + b" " * 20_000, headers=headers
    ) as resp:
        assert resp.status == 413
    reply = await api.call(
        "POST",
        "/api/v1/admin/sales",
        token=admin_token,
        json={"name": "x", "stock": "5", "starts_at": "yesterday", "ends_at": 5},
    )
    assert reply.status == 422
    fields = {d["field"] for d in reply.body["error"]["details"]}
    assert {"stock", "starts_at", "ends_at"} <= fields
    reply = await api.call(
        "POST", path, token=alice, json={}, headers={"Idempotency-Key": "has space"}
    )
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_idempotency_key")


async def test_idempotency_key_returns_the_same_ticket_even_after_the_window(api, admin_token):
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=5, lasts=timedelta(seconds=3))
    first = await api.purchase(alice, sale["sale_id"], key="order-1")
    again = await api.purchase(alice, sale["sale_id"], key="order-1")
    other = await api.purchase(alice, sale["sale_id"], key="order-2")
    assert first.status == again.status == other.status == 202
    assert again.body["ticket_id"] == first.body["ticket_id"]
    assert other.body["ticket_id"] != first.body["ticket_id"]
    await api.wait_final(alice, first.body["ticket_id"])
    await asyncio.sleep(3)  # the sale has ended now
    assert (await api.purchase(alice, sale["sale_id"])).status == 409
    late = await api.purchase(alice, sale["sale_id"], key="order-1")
    assert late.status == 202
    assert late.body == {"ticket_id": first.body["ticket_id"], "status": "confirmed"}
