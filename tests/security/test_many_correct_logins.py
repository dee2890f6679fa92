"""A crowd logging in from one address with the right passwords is served, not throttled."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

pytestmark = pytest.mark.e2e

LOGINS, CONCURRENCY = 1000, 100


async def test_a_thousand_correct_logins_from_one_address_are_all_served(api):
    # The stack's defaults (throttle 5/20/50, 2 s of bcrypt queue) at cost 4, one client
    # address, every password right. The throttle counts failures only, and a queue of cheap
    # checks is no overload; before, more than 20 logins in flight from one address got 429
    # and more than 34 checks in flight 503.
    users = [f"buyer{i}" for i in range(LOGINS)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def call(path: str, username: str) -> int:
        async with gate:
            reply = await api.call(
                "POST", path, json={"username": username, "password": "correct-horse"}
            )
            return reply.status

    registered = Counter(await asyncio.gather(*(call("/api/v1/auth/register", u) for u in users)))
    assert registered == {201: LOGINS}, registered
    logged_in = Counter(await asyncio.gather(*(call("/api/v1/auth/login", u) for u in users)))
    assert logged_in == {200: LOGINS}, logged_in
