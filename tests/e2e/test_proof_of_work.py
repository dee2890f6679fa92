"""A sale's proof of work over HTTP (issue 14): a purchase needs a fresh solution of a
challenge issued to its buyer for its sale, by any gateway; each solution buys once."""

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest

from tests.support.api import Api

pytestmark = pytest.mark.e2e

TTL_SECONDS = 4  # short, so that the test can wait for a challenge to expire


@pytest.fixture
def stack_env(stack_env):
    return {**stack_env, "POW_CHALLENGE_TTL_SECONDS": str(TTL_SECONDS)}


def solve(challenge: str, difficulty: int, *, enough: bool = True) -> str:
    """A nonce whose `<challenge>:<nonce>` hashes to at least (or, with ``enough`` false,
    fewer than) ``difficulty`` leading zero bits."""
    nonce = 0
    while True:
        solution = f"{challenge}:{nonce}"
        value = int.from_bytes(hashlib.sha256(solution.encode()).digest(), "big")
        if (value < 1 << (256 - difficulty)) == enough:
            return solution
        nonce += 1


async def challenge(api: Api, token: str, sale_id: str) -> dict:
    reply = await api.call("GET", f"/api/v1/sales/{sale_id}/challenge", token=token)
    assert reply.status == 200, reply
    assert reply.headers["Cache-Control"] == "no-store"
    return dict(reply.body)


async def solved(api: Api, token: str, sale_id: str) -> str:
    issued = await challenge(api, token, sale_id)
    return solve(issued["challenge"], issued["difficulty"])


async def buy(api: Api, token: str, sale_id: str, solution: str | None, key: str | None = None):
    headers = {"X-PoW-Solution": solution} if solution is not None else {}
    if key:
        headers["Idempotency-Key"] = key
    return await api.call(
        "POST", f"/api/v1/sales/{sale_id}/purchases", token=token, json={}, headers=headers
    )


def refused(reply, status: int, code: str) -> str:
    assert (reply.status, reply.body["error"]["code"]) == (status, code), reply
    return str(reply.body["error"]["message"])


async def test_each_purchase_needs_a_fresh_solution_of_its_own(stack, api, admin_token):
    # A second gateway: the secret is shared in Redis (POW_SECRET is not set), so a challenge
    # of one is good at the other.
    second = stack.replica(stack.gateway, "gateway-b")
    await second.restart()
    api_b = Api(api.session, second.url)
    alice, bob = await asyncio.gather(api.user("alice"), api.user("bob"))
    sale = await api.create_sale(admin_token, stock=10, per_user_limit=5, pow_difficulty=16)
    other = await api.create_sale(admin_token, stock=10, per_user_limit=5, pow_difficulty=16)
    sale_id = sale["sale_id"]
    assert sale["pow_difficulty"] == 16

    issued = await challenge(api, alice, sale_id)
    assert set(issued) == {"challenge", "difficulty", "expires_at"}
    assert issued["difficulty"] == 16
    assert len(issued["challenge"]) == 36 and ":" not in issued["challenge"]
    left = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert 0 < left.total_seconds() <= TTL_SECONDS + 1
    solution = solve(issued["challenge"], 16)

    # Missing, malformed, too little work, another buyer's, another sale's: refused, and
    # none of them spends Alice's challenge.
    refused(await buy(api, alice, sale_id, None), 428, "pow_required")
    for malformed in ("", "nonsense", f"{issued['challenge']}:", f"{issued['challenge']}:a b"):
        refused(await buy(api, alice, sale_id, malformed), 403, "pow_invalid")
    weak = solve(issued["challenge"], 16, enough=False)
    assert "zero bits" in refused(await buy(api, alice, sale_id, weak), 403, "pow_invalid")
    assert "not issued to you" in refused(
        await buy(api, bob, sale_id, solution), 403, "pow_invalid"
    )
    assert "not issued to you" in refused(
        await buy(api, alice, other["sale_id"], solution), 403, "pow_invalid"
    )

    # Solved at the first gateway's challenge, bought at the second; then never again.
    first = await buy(api_b, alice, sale_id, solution)
    assert first.status == 202, first
    assert "already used" in refused(await buy(api, alice, sale_id, solution), 403, "pow_invalid")
    assert "already used" in refused(await buy(api_b, alice, sale_id, solution), 403, "pow_invalid")
    final = await api.wait_final(alice, first.body["ticket_id"])
    assert final["status"] == "confirmed"

    # A retry with the Idempotency-Key of a purchase that got its ticket needs no solution.
    keyed = await buy(api, bob, sale_id, await solved(api, bob, sale_id), key="bob-1")
    assert keyed.status == 202, keyed
    again = await buy(api, bob, sale_id, None, key="bob-1")
    assert (again.status, again.body["ticket_id"]) == (202, keyed.body["ticket_id"])
    # A new key is a new purchase: it needs a new solution.
    refused(await buy(api, bob, sale_id, None, key="bob-2"), 428, "pow_required")

    # A challenge past its expiry is refused, however well solved.
    late = await solved(api, bob, sale_id)
    await asyncio.sleep(TTL_SECONDS + 0.5)
    assert "expired" in refused(await buy(api, bob, sale_id, late), 403, "pow_invalid")


async def test_a_sale_without_proof_of_work_needs_no_header(api, admin_token):
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=5)
    assert sale["pow_difficulty"] == 0
    reply = await buy(api, alice, sale["sale_id"], None)
    assert reply.status == 202, reply
    # Its challenge says so; a header sent anyway is not looked at.
    assert (await challenge(api, alice, sale["sale_id"]))["difficulty"] == 0
    reply = await buy(api, alice, sale["sale_id"], "anything at all")
    assert reply.status == 202, reply


async def test_the_challenge_route_answers_like_the_other_sale_routes(api):
    alice = await api.user("alice")
    for sale_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        reply = await api.call("GET", f"/api/v1/sales/{sale_id}/challenge", token=alice)
        assert (reply.status, reply.body["error"]["code"]) == (404, "not_found")
    reply = await api.call("GET", "/api/v1/sales/00000000-0000-0000-0000-000000000000/challenge")
    assert reply.status == 401
