"""One contract, two throttles: the Redis one and the unit tests' fake are held to the same
checks, so the fake cannot drift from what the service does."""

from __future__ import annotations

import asyncio

import pytest

from auth_service.adapters.redis_throttle import RedisLoginThrottle
from auth_service.domain import Attempt, TooManyAttempts
from tests.unit.auth.fakes import FakeThrottle

PER_CLIENT, PER_USER, PER_ACCOUNT = 6, 3, 5


@pytest.fixture(params=["fake", "redis"])
def throttle(request, redis_client, namespace):
    if request.param == "fake":
        return FakeThrottle(per_client=PER_CLIENT, per_user=PER_USER, per_account=PER_ACCOUNT)
    return RedisLoginThrottle(
        redis_client,
        namespace=namespace,
        max_per_client=PER_CLIENT,
        max_per_user=PER_USER,
        max_per_account=PER_ACCOUNT,
        window_seconds=60,
    )


async def attempt(throttle, username: str | None, client: str, verdict: str) -> None:
    a = Attempt(username, client)
    await throttle.begin(a)
    await throttle.finish(a, verdict)


async def refused(throttle, username: str | None, client: str) -> str:
    """The limit that refuses this attempt now (fails the test if it is admitted)."""
    with pytest.raises(TooManyAttempts) as caught:
        await throttle.begin(Attempt(username, client))
    return caught.value.limit


async def test_successes_never_count(throttle):
    for _ in range(PER_CLIENT * 5):
        await attempt(throttle, "alice", "10.0.0.1", "succeeded")


async def test_abandoned_attempts_count_against_nobody(throttle):
    for _ in range(PER_CLIENT * 5):
        await attempt(throttle, "alice", "10.0.0.1", "abandoned")
    await attempt(throttle, "alice", "10.0.0.1", "succeeded")


async def test_failures_lock_the_account_for_that_client_only(throttle):
    for _ in range(PER_USER):
        await attempt(throttle, "alice", "10.0.0.1", "failed")
    assert await refused(throttle, "alice", "10.0.0.1") == "user"
    assert await refused(throttle, "ALICE", "10.0.0.1") == "user"  # any letter case
    # The victim, from her own address, still gets in; the stranger can try other accounts.
    await attempt(throttle, "alice", "10.0.0.2", "succeeded")
    await attempt(throttle, "bob", "10.0.0.1", "succeeded")


async def test_failures_from_many_clients_lock_the_account(throttle):
    for i in range(PER_ACCOUNT):
        await attempt(throttle, "alice", f"10.0.1.{i}", "failed")
    assert await refused(throttle, "alice", "10.0.9.9") == "account"
    await attempt(throttle, "bob", "10.0.9.9", "succeeded")


async def test_failures_across_accounts_lock_the_client(throttle):
    for i in range(PER_CLIENT):
        await attempt(throttle, f"user{i}", "10.0.0.1", "failed")
    assert await refused(throttle, "someone", "10.0.0.1") == "client"
    assert await refused(throttle, None, "10.0.0.1") == "client"
    await attempt(throttle, "someone", "10.0.0.2", "succeeded")


async def test_malformed_usernames_count_against_the_client(throttle):
    for _ in range(PER_CLIENT):
        await attempt(throttle, None, "10.0.0.1", "failed")
    assert await refused(throttle, "alice", "10.0.0.1") == "client"


async def test_a_success_forgets_failures_from_that_client_not_the_account_total(throttle):
    for _ in range(PER_USER - 1):
        await attempt(throttle, "alice", "10.0.0.1", "failed")
    await attempt(throttle, "alice", "10.0.0.1", "succeeded")
    # From this client the count starts again ...
    for _ in range(PER_USER - 1):
        await attempt(throttle, "alice", "10.0.0.1", "failed")
    await attempt(throttle, "alice", "10.0.0.1", "succeeded")
    # ... but the account has seen 2 x (PER_USER - 1) = 4 failures: one more locks it.
    await attempt(throttle, "alice", "10.0.0.3", "failed")
    assert await refused(throttle, "alice", "10.0.0.4") == "account"


async def test_parallel_checks_of_one_account_cannot_exceed_its_limit(throttle):
    await attempt(throttle, "alice", "10.0.0.1", "failed")
    in_flight = [Attempt("alice", "10.0.0.1") for _ in range(PER_USER - 1)]
    for a in in_flight:
        await throttle.begin(a)
    # Failures so far + checks in flight reach the limit: no more, until a verdict.
    assert await refused(throttle, "alice", "10.0.0.1") == "in_flight"
    # A verdict frees its place: one failure, and the place is taken by the next check.
    await throttle.finish(in_flight[0], "failed")
    assert await refused(throttle, "alice", "10.0.0.1") == "in_flight"
    await throttle.finish(in_flight[1], "failed")
    # Now three verdicts were failures: the limit itself refuses, not the checks in flight.
    assert await refused(throttle, "alice", "10.0.0.1") == "user"


async def test_concurrent_begins_admit_no_more_than_the_limit(throttle):
    outcomes = await asyncio.gather(
        *(throttle.begin(Attempt("alice", "10.0.0.1")) for _ in range(20)),
        return_exceptions=True,
    )
    admitted = [o for o in outcomes if o is None]
    assert len(admitted) == PER_USER
    assert all(isinstance(o, TooManyAttempts) for o in outcomes if o is not None)
