"""A buyer sees only their own tickets and orders; ids in paths cannot be abused."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from yarl import URL

from tests.security.helpers import error_problem, raw

pytestmark = pytest.mark.e2e


async def test_another_users_ticket_is_indistinguishable_from_a_missing_one(api, admin_token):
    alice, bob = await asyncio.gather(api.user("alice"), api.user("bob"))
    sale = await api.create_sale(admin_token, stock=5)
    placed = await api.purchase(alice, sale["sale_id"])
    assert placed.status == 202, placed
    ticket = placed.body["ticket_id"]
    assert (await api.wait_final(alice, ticket))["status"] == "confirmed"

    theirs = await api.ticket(bob, ticket)
    missing = await api.ticket(bob, str(uuid.uuid4()))
    assert error_problem(theirs, 404, "not_found") is None, theirs
    assert (theirs.status, theirs.body) == (missing.status, missing.body)
    # Same headers too, apart from those that change with every response.
    volatile = {"Date", "Content-Length", "X-Request-ID"}
    assert {k: v for k, v in theirs.headers.items() if k not in volatile} == {
        k: v for k, v in missing.headers.items() if k not in volatile
    }
    # The admin is no owner either: tickets are private, not role-scoped.
    assert (await api.ticket(admin_token, ticket)).body == missing.body


async def test_orders_are_only_the_callers(api, admin_token):
    registered = await api.register("alice", "correct-horse")
    alice_id = registered.body["user_id"]
    alice = await api.login("alice", "correct-horse")
    bob, carol = await asyncio.gather(api.user("bob"), api.user("carol"))
    sale = await api.create_sale(admin_token, stock=10, per_user_limit=2)
    tickets: dict[str, set[str]] = {alice: set(), bob: set()}
    for token in (alice, bob, alice):
        reply = await api.purchase(token, sale["sale_id"])
        assert reply.status == 202, reply
        tickets[token].add(reply.body["ticket_id"])
    for token, theirs in tickets.items():
        for ticket in theirs:
            assert (await api.wait_final(token, ticket))["status"] == "confirmed"

    async def orders(token: str, query: str = "") -> set[str]:
        reply = await api.call("GET", f"/api/v1/orders{query}", token=token)
        assert reply.status == 200, reply
        return {o["ticket_id"] for o in reply.body}

    # Orders are written just after a ticket is confirmed: wait until all three are there.
    deadline = asyncio.get_running_loop().time() + 10
    while len(await orders(alice)) + len(await orders(bob)) < 3:
        assert asyncio.get_running_loop().time() < deadline, "orders were not written"
        await asyncio.sleep(0.05)
    assert await orders(alice) == tickets[alice]
    assert await orders(bob) == tickets[bob]
    assert await orders(carol) == set()
    assert await orders(admin_token) == set()
    # Query parameters cannot widen the scope to someone else's orders.
    for query in (
        f"?user_id={alice_id}",
        f"?sub={alice_id}",
        "?user_id=*",
        "?limit=1000&user=alice",
    ):
        assert await orders(carol, query) == set(), query


MALFORMED_IDS = [
    "not-a-uuid",
    "123",
    "00000000-0000-0000-0000-00000000000",  # one digit short
    "00000000-0000-0000-0000-0000000000000",  # one digit long
    "g0000000-0000-0000-0000-000000000000",
    "%00",
    "%2e%2e",
    "%2F..%2Fmetrics",
    "'%20OR%20'1'='1",
    "1;DROP%20TABLE%20orders",
    "%F0%9F%92%A5",  # an emoji
    "%FF%FE",  # not UTF-8
    "%E2%80%AE00000000-0000-0000-0000-000000000000",  # right-to-left override
    "null",
    "-1",
    "9" * 2000,
]


# (method, path) of every route that takes an id.
ID_ROUTES = [
    ("GET", "/api/v1/sales/{id}"),
    ("POST", "/api/v1/sales/{id}/purchases"),
    ("GET", "/api/v1/tickets/{id}"),
    ("GET", "/api/v1/admin/sales/{id}/stats"),
]


async def test_malformed_path_ids_are_404_never_5xx(api, admin_token):
    alice = await api.user("alice")
    problems = {}
    for method, template in ID_ROUTES:
        token = admin_token if "/admin/" in template else alice
        for bad in MALFORMED_IDS:
            # Sent exactly as written: a client library would normalise the escapes away.
            url = URL(api.base + template.replace("{id}", bad), encoded=True)
            reply = await raw(
                api.session, method, str(url), headers={"Authorization": f"Bearer {token}"}
            )
            if reply.status == 422:
                problem = error_problem(reply, 422, "validation_error")
            else:
                problem = error_problem(reply, 404, "not_found")
            if problem:
                problems[f"{method} {template} {bad[:40]}"] = problem
    assert problems == {}
