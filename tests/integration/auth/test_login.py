import asyncio
import time

import pytest

from shared.contracts.errors import Unauthorized
from tests.integration.auth.helpers import login, register, verifier


async def test_login_token_verifies_with_the_shared_verifier(client):
    user = await (await register(client, "Alice")).json()
    resp = await login(client, "alice")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    async with verifier(str(client.make_url("/.well-known/jwks.json"))) as v:
        claims = await v.verify(body["access_token"])
    assert str(claims.sub) == user["user_id"]
    assert (claims.name, claims.role) == ("Alice", "user")
    assert claims.exp - claims.iat == 900
    assert abs(claims.iat - time.time()) < 5


async def test_wrong_password_and_unknown_user_look_the_same(client):
    await register(client, "alice")
    answers = [
        await login(client, "alice", "wrong password"),
        await login(client, "nobody", "wrong password"),
        await login(client, "no such user!", "x"),  # fails the format rules: still just 401
        await login(client, "alice", "€" * 40),  # longer than bcrypt accepts
    ]
    bodies = [await r.json() for r in answers]
    assert {r.status for r in answers} == {401}
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["error"]["code"] == "invalid_credentials"


async def test_unknown_user_costs_about_as_much_as_a_wrong_password(make_settings, start):
    # Cost 10 (~60 ms) so that skipping bcrypt would stand out against the noise.
    client = await start(bcrypt_rounds=10)
    await register(client, "alice")

    async def timed(username):
        start = time.perf_counter()
        assert (await login(client, username, "wrong password")).status == 401
        return time.perf_counter() - start

    known = min([await timed("alice") for _ in range(3)])
    unknown = min([await timed(f"nobody{i}") for i in range(3)])
    assert unknown > known * 0.5


async def test_login_body_errors(client):
    resp = await client.post("/api/v1/auth/login", data=b"{oops")
    assert resp.status == 400
    resp = await client.post("/api/v1/auth/login", json={"username": "alice"})
    assert resp.status == 422
    assert [d["field"] for d in (await resp.json())["error"]["details"]] == ["password"]
    resp = await client.post("/api/v1/auth/login", json={"username": 1, "password": "x"})
    assert resp.status == 422


async def test_throttled_per_username_then_allowed_after_the_window(make_settings, start):
    settings = make_settings(login_max_failures_per_user=2, login_failure_window_seconds=1)
    client = await start(settings)
    await register(client, "alice")
    for _ in range(2):
        assert (await login(client, "alice", "wrong password")).status == 401
    resp = await login(client, "ALICE")  # the right password, but too late
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"]["code"] == "too_many_attempts"
    # Another user from the same client is not affected by alice's counter.
    await register(client, "bob")
    assert (await login(client, "bob")).status == 200
    await asyncio.sleep(1.1)
    assert (await login(client, "alice")).status == 200


async def test_success_clears_the_username_failures(make_settings, start, redis_client):
    settings = make_settings(login_max_failures_per_user=2)
    client = await start(settings)
    await register(client, "alice")
    assert (await login(client, "alice", "wrong password")).status == 401
    keys = [k async for k in redis_client.scan_iter(match=f"{settings.namespace}:{{auth}}:*")]
    failures = f"{settings.namespace}:{{auth}}:fail:user:alice:127.0.0.1"  # from this client
    assert failures in keys
    assert (await login(client, "alice")).status == 200
    assert await redis_client.exists(failures) == 0
    # So two more failures are allowed again before the lock.
    for _ in range(2):
        assert (await login(client, "alice", "wrong password")).status == 401
    assert (await login(client, "alice")).status == 429


async def test_throttled_per_client_address(make_settings, start):
    settings = make_settings(login_max_failures_per_client=3, login_failure_window_seconds=60)
    client = await start(settings)
    await register(client, "alice")
    attacker = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    for i in range(3):
        resp = await login(client, f"victim{i}", "wrong password", headers=attacker)
        assert resp.status == 401
    resp = await login(client, "alice", headers=attacker)
    assert resp.status == 429
    assert 59 <= int(resp.headers["Retry-After"]) <= 60
    # The test client connects from 127.0.0.1, a trusted proxy by default (the gateway, in a
    # deployment): the limit follows the right-most untrusted entry, not the first (forgeable).
    other = {"X-Forwarded-For": "203.0.113.9, 198.51.100.8"}
    assert (await login(client, "alice", headers=other)).status == 200


async def test_parallel_guesses_cannot_overshoot_the_limit(make_settings, start):
    settings = make_settings(login_max_failures_per_user=3, bcrypt_rounds=8)
    client = await start(settings)
    await register(client, "alice")
    results = await asyncio.gather(
        *(login(client, "alice", f"guess number {i}") for i in range(20))
    )
    statuses = sorted(r.status for r in results)
    assert statuses.count(401) == 3
    assert statuses.count(429) == 17


async def test_token_from_another_issuer_setting_is_rejected(make_settings, start):
    # Guards the test above against a verifier that accepts anything.
    client = await start(jwt_audience="someone-else")
    await register(client, "alice")
    token = (await (await login(client, "alice")).json())["access_token"]
    async with verifier(str(client.make_url("/.well-known/jwks.json"))) as v:
        with pytest.raises(Unauthorized):
            await v.verify(token)
