"""Failed logins are throttled per username and per client, as the README promises (5 and 20)."""

from __future__ import annotations

import pytest

from tests.security.helpers import assert_error
from tests.support.api import Api, Reply

pytestmark = pytest.mark.e2e

PER_USER, PER_CLIENT, WINDOW = 5, 20, 300  # the documented defaults


async def login(api: Api, username: str, password: str, **headers: str) -> Reply:
    return await api.call(
        "POST",
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers=headers,
    )


def assert_throttled(reply: Reply) -> None:
    assert_error(reply, 429, "too_many_attempts")
    assert 1 <= int(reply.headers["Retry-After"]) <= WINDOW, reply.headers


async def test_failures_are_throttled_per_username_then_per_client(api):
    assert (await api.register("alice", "correct-horse")).status == 201
    assert (await api.register("bob", "battery-staple")).status == 201

    for _ in range(PER_USER):
        assert_error(await login(api, "alice", "wrong password"), 401, "invalid_credentials")
    # Locked: even the right password is not checked, in any letter case.
    assert_throttled(await login(api, "alice", "correct-horse"))
    assert_throttled(await login(api, "ALICE", "correct-horse"))
    # Another account from the same client still works (and gives its count back).
    assert (await login(api, "bob", "battery-staple")).status == 200

    # Spraying across usernames: the client's failures add up (alice's five count too).
    for i in range(PER_CLIENT - PER_USER):
        assert_error(await login(api, f"nobody{i}", "wrong password"), 401, "invalid_credentials")
    assert_throttled(await login(api, "bob", "battery-staple"))
    assert_throttled(await login(api, "never-seen", "wrong password"))
    # A forged X-Forwarded-For does not make a new client: the gateway appends the real peer.
    assert_throttled(await login(api, "bob", "battery-staple", **{"X-Forwarded-For": "10.9.8.7"}))


async def test_malformed_credentials_count_as_failures_too(api):
    # Credentials that break the account rules are refused without bcrypt, but still counted:
    # otherwise they would be a free oracle for the client limit.
    for i in range(PER_CLIENT):
        reply = await login(api, f"no such user {i}!", "x")
        assert_error(reply, 401, "invalid_credentials")
    assert_throttled(await login(api, "whoever", "whatever-password"))
