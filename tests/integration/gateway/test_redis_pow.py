"""The proof-of-work gate on the real Redis: one secret for every gateway of a namespace, and
each used challenge remembered exactly as long as it could still be used."""

import asyncio
from uuid import uuid4

import pytest
from pydantic import SecretStr

from gateway import pow
from gateway.adapters.redis_pow import RedisProofOfWork
from shared.contracts.errors import Forbidden
from shared.contracts.redis_layout import Keys

pytestmark = pytest.mark.integration


async def test_gateways_without_pow_secret_share_the_first_ones(redis_client, namespace):
    keys = Keys(namespace)
    first = await RedisProofOfWork.open(redis_client, keys, secret=None, ttl_seconds=60)
    second = await RedisProofOfWork.open(redis_client, keys, secret=None, ttl_seconds=60)
    stored = await redis_client.get(keys.pow_secret)
    assert stored is not None and len(stored) == 64
    assert await redis_client.ttl(keys.pow_secret) == -1  # kept: challenges in flight need it
    user, sale = uuid4(), uuid4()
    solution = pow.solve(first.challenge(user, sale, 8).challenge, 8)
    await second.verify(user, sale, 8, solution)
    # A gateway with POW_SECRET signs with that one instead, and leaves Redis's alone.
    own = await RedisProofOfWork.open(
        redis_client, keys, secret=SecretStr("a configured secret!"), ttl_seconds=60
    )
    with pytest.raises(Forbidden, match="not issued to you"):
        await own.verify(user, sale, 8, pow.solve(first.challenge(user, sale, 8).challenge, 8))
    assert await redis_client.get(keys.pow_secret) == stored


async def test_a_used_challenge_is_remembered_until_it_expires(redis_client, namespace):
    keys = Keys(namespace)
    now = [1_800_000_000_000]
    gate = RedisProofOfWork(
        redis_client, keys, secret="s" * 32, ttl_seconds=30, clock=lambda: now[0]
    )
    user, sale = uuid4(), uuid4()
    issued = gate.challenge(user, sale, 4)
    solution = pow.solve(issued.challenge, 4)
    now[0] += 10_000  # used 10 s into its 30
    await gate.verify(user, sale, 4, solution)
    ttl_ms = await redis_client.pttl(keys.pow_used(sale, issued.challenge))
    assert 19_000 < ttl_ms <= 20_000
    with pytest.raises(Forbidden, match="already used") as caught:
        await gate.verify(user, sale, 4, solution)
    assert caught.value.code == "pow_invalid"
    # A refused solution spends nothing: the other buyer's attempt left no mark.
    fresh = gate.challenge(user, sale, 4)
    with pytest.raises(Forbidden, match="not issued to you"):
        await gate.verify(uuid4(), sale, 4, pow.solve(fresh.challenge, 4))
    assert await redis_client.exists(keys.pow_used(sale, fresh.challenge)) == 0
    await gate.verify(user, sale, 4, pow.solve(fresh.challenge, 4))


async def test_challenges_spent_together_share_a_call_and_a_replay_among_them_fails(
    redis_client, namespace
):
    keys = Keys(namespace)
    gate = RedisProofOfWork(redis_client, keys, secret="s" * 32, ttl_seconds=30, linger=0.01)
    sales = [uuid4() for _ in range(3)]
    buyers = [(uuid4(), sales[i % 3]) for i in range(30)]
    solutions = [pow.solve(gate.challenge(u, s, 4).challenge, 4) for u, s in buyers]
    # Every solution once, and the first one a second time, all in one linger.
    results = await asyncio.gather(
        *(gate.verify(u, s, 4, sol) for (u, s), sol in zip(buyers, solutions, strict=True)),
        gate.verify(*buyers[0], 4, solutions[0]),
        return_exceptions=True,
    )
    refusals = [r for r in results if r is not None]
    assert len(refusals) == 1 and isinstance(refusals[0], Forbidden), results
    for (_, sale), solution in zip(buyers, solutions, strict=True):
        challenge = solution.rpartition(":")[0]
        assert await redis_client.exists(keys.pow_used(sale, challenge)) == 1
    await gate.close()
