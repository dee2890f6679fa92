"""Login throttling behind a real reverse proxy: every client has its own bucket.

A private nginx runs the shipped load-balancer template in front of the gateway, which trusts
it (FORWARDED_ALLOW_IPS=127.0.0.1). Clients connect from several loopback addresses
(127.0.0.2, 127.0.0.3, ...), so the proxy names a different client for each. Before the
gateway learnt whom to trust, every user behind a proxy shared the proxy's bucket: twenty
typos anywhere locked everybody out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from tests.security.helpers import assert_error
from tests.support.api import Api, Reply
from tests.support.nginx import private_nginx
from tests.support.processes import ARTIFACTS

pytestmark = pytest.mark.e2e

PER_USER, PER_CLIENT, PER_ACCOUNT = 5, 20, 50  # the documented defaults
PASSWORD = "correct-horse"


@pytest.fixture
def stack_env(stack_env):
    # The proxy connects to the gateway from 127.0.0.1; nothing else is trusted.
    return {**stack_env, "FORWARDED_ALLOW_IPS": "127.0.0.1"}


@pytest.fixture
async def lb(stack, request) -> AsyncIterator[str]:
    artifacts = ARTIFACTS / request.node.name
    async with private_nginx(artifacts, f"127.0.0.1:{stack.gateway.port}") as url:
        yield url


@asynccontextmanager
async def client_at(address: str, base_url: str) -> AsyncIterator[Api]:
    """An API client whose connections come from ``address`` (a loopback address)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=20)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Api(session, base_url)


async def login(api: Api, username: str, password: str = PASSWORD, **headers: str) -> Reply:
    return await api.call(
        "POST",
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers=headers,
    )


async def test_each_client_behind_the_proxy_has_its_own_bucket(lb):
    async with (
        client_at("127.0.0.2", lb) as mallory,
        client_at("127.0.0.3", lb) as alice,
        client_at("127.0.0.4", lb) as bob,
    ):
        assert (await alice.register("alice", PASSWORD)).status == 201
        assert (await bob.register("bob", PASSWORD)).status == 201
        # Mallory sprays wrong passwords over many accounts until her address is locked ...
        for i in range(PER_CLIENT):
            assert_error(await login(mallory, f"victim{i}", "wrong password"), 401)
        assert_error(await login(mallory, "alice"), 429, "too_many_attempts")
        # ... and forging X-Forwarded-For does not get her a new bucket: the proxy appends her
        # real address, and the gateway takes the right-most hop it does not trust.
        spoofed = {"X-Forwarded-For": "127.0.0.3"}
        assert_error(await login(mallory, "alice", **spoofed), 429, "too_many_attempts")
        # Everybody else behind the same proxy logs in as usual.
        assert (await login(alice, "alice")).status == 200
        assert (await login(bob, "bob")).status == 200


async def test_a_strangers_typos_lock_the_account_only_for_the_stranger(lb):
    async with client_at("127.0.0.2", lb) as stranger, client_at("127.0.0.3", lb) as alice:
        assert (await alice.register("alice", PASSWORD)).status == 201
        for _ in range(PER_USER):
            assert_error(await login(stranger, "alice", "wrong password"), 401)
        assert_error(await login(stranger, "alice"), 429, "too_many_attempts")
        assert (await login(alice, "alice")).status == 200


async def test_brute_force_on_one_account_from_many_addresses_is_still_throttled(lb):
    async with client_at("127.0.0.3", lb) as owner:
        assert (await owner.register("alice", PASSWORD)).status == 201
    statuses = []
    # 20 addresses, 3 guesses each: under every per-client and per-(account, client) limit,
    # but 60 failures on one account in all.
    for host in range(20):
        async with client_at(f"127.0.1.{host + 1}", lb) as attacker:
            for guess in range(3):
                reply = await login(attacker, "alice", f"guess {host}-{guess}!")
                statuses.append(reply.status)
    assert statuses[:PER_ACCOUNT] == [401] * PER_ACCOUNT, statuses
    assert statuses[PER_ACCOUNT:] == [429] * (60 - PER_ACCOUNT), statuses
    # Now the account is closed from any address, the right password included, until the
    # window ends.
    async with client_at("127.0.2.1", lb) as someone:
        assert_error(await login(someone, "alice"), 429, "too_many_attempts")


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(stack, lb):
    # Straight to the gateway from 127.0.0.5, which is no trusted proxy: whatever it claims
    # in X-Forwarded-For or Forwarded, its failures are its own address's.
    async with client_at("127.0.0.5", stack.gateway.url) as direct:
        assert (await direct.register("alice", PASSWORD)).status == 201
        forged = {"X-Forwarded-For": "127.0.0.6", "Forwarded": "for=127.0.0.6"}
        for i in range(PER_CLIENT):
            assert_error(await login(direct, f"victim{i}", "wrong password", **forged), 401)
        assert_error(await login(direct, "alice", **forged), 429, "too_many_attempts")
    # The address it named was never charged: a client there (behind the proxy, which names
    # it) is not locked.
    async with client_at("127.0.0.6", lb) as other:
        assert (await login(other, "alice")).status == 200
