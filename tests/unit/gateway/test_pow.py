"""gateway/pow.py: a challenge holds for its buyer, sale and difficulty until it expires, and
only with enough work; each refusal is 403 pow_invalid, a missing solution 428 pow_required."""

from __future__ import annotations

import base64
import hashlib
import time
from uuid import uuid4

import pytest

from gateway import pow
from shared.contracts.errors import Forbidden, PreconditionRequired

SECRET = b"a secret of the gateways, 32 bytes"
NOW = 1_800_000_000_000
TTL = 120_000


def brute_force(challenge: str, difficulty: int) -> str:
    """The buyer's side, written apart from gateway.pow so that a shared mistake shows."""
    nonce = 0
    while True:
        candidate = f"{challenge}:{nonce}"
        digest = hashlib.sha256(candidate.encode("utf-8")).digest()
        if int.from_bytes(digest, "big") < 1 << (256 - difficulty):
            return candidate
        nonce += 1


def failing(challenge: str, difficulty: int) -> str:
    """A solution whose hash falls short of ``difficulty`` (has fewer zero bits)."""
    nonce = 0
    while True:
        candidate = f"{challenge}:{nonce}"
        digest = hashlib.sha256(candidate.encode()).digest()
        if pow.leading_zero_bits(digest) < difficulty:
            return candidate
        nonce += 1


@pytest.fixture
def issued():
    user, sale = uuid4(), uuid4()
    minted = pow.mint(SECRET, user, sale, 8, expires_at_ms=NOW + TTL, random=bytes(9))
    return user, sale, minted


def check(user, sale, solution, *, difficulty=8, now=NOW, secret=SECRET):
    return pow.check(secret, user, sale, difficulty, solution, now_ms=now)


def refused(user, sale, solution, **kw) -> str:
    with pytest.raises(Forbidden) as caught:
        check(user, sale, solution, **kw)
    assert (caught.value.status, caught.value.code) == (403, "pow_invalid")
    return caught.value.message


def test_a_solved_challenge_holds_until_it_expires(issued):
    user, sale, minted = issued
    solution = brute_force(minted.challenge, 8)
    verified = check(user, sale, solution)
    assert verified == pow.Verified(minted.challenge, TTL)
    assert check(user, sale, solution, now=NOW + TTL - 1).remaining_ms == 1
    assert "expired" in refused(user, sale, solution, now=NOW + TTL)


def test_the_challenge_is_short_and_has_no_colon(issued):
    *_, minted = issued
    assert len(minted.challenge) == pow.CHALLENGE_CHARS == 36
    assert ":" not in minted.challenge and "=" not in minted.challenge
    assert minted.difficulty == 8
    assert minted.expires_at.timestamp() * 1000 == NOW + TTL
    # Each challenge differs by its random part.
    other = pow.mint(SECRET, uuid4(), uuid4(), 8, expires_at_ms=NOW, random=b"\1" * 9)
    assert other.challenge != minted.challenge


def test_a_missing_solution_is_428_pow_required(issued):
    user, sale, _ = issued
    with pytest.raises(PreconditionRequired) as caught:
        check(user, sale, None)
    assert (caught.value.status, caught.value.code) == (428, "pow_required")
    assert str(sale) in caught.value.message


def test_another_buyers_or_another_sales_challenge_is_refused(issued):
    user, sale, minted = issued
    solution = brute_force(minted.challenge, 8)
    assert "not issued to you" in refused(uuid4(), sale, solution)
    assert "not issued to you" in refused(user, uuid4(), solution)


def test_a_challenge_holds_only_at_its_difficulty_and_with_its_secret(issued):
    user, sale, minted = issued
    solution = brute_force(minted.challenge, 9)  # enough work for 8 and for 9
    assert "not issued to you" in refused(user, sale, solution, difficulty=9)
    assert "not issued to you" in refused(user, sale, solution, secret=b"another gateway's")


def test_too_little_work_is_refused(issued):
    user, sale, minted = issued
    assert "zero bits" in refused(user, sale, failing(minted.challenge, 8))


def test_a_forged_or_altered_challenge_is_refused(issued):
    user, sale, minted = issued
    raw = bytearray(base64.urlsafe_b64decode(minted.challenge))
    raw[0:6] = (NOW + 10 * TTL).to_bytes(6, "big")  # a later expiry, the tag unchanged
    forged = base64.urlsafe_b64encode(bytes(raw)).decode()
    assert "not issued to you" in refused(user, sale, brute_force(forged, 8))


@pytest.mark.parametrize(
    "solution",
    [
        "",
        ":",
        "no-colon-at-all",
        "{challenge}",
        "{challenge}:",
        ":{nonce}",
        "{challenge}:a b",
        "{challenge}:ü",
        "{challenge}:" + "1" * 65,
        "{challenge}x:1",  # 37 characters
        "{short}:1",  # 35 characters
        "{challenge_padded}:1",
        "{challenge}::1",
    ],
)
def test_a_malformed_solution_is_refused(issued, solution):
    user, sale, minted = issued
    value = solution.format(
        challenge=minted.challenge,
        short=minted.challenge[:-1],
        challenge_padded=minted.challenge[:-1] + "=",
        nonce="1",
    )
    assert "<challenge>:<nonce>" in refused(user, sale, value)


def test_the_nonce_may_be_any_short_token(issued):
    user, sale, minted = issued
    for prefix in ("", "a.b_c-", "Z" * 50):
        nonce = 0
        while not pow.solves(f"{minted.challenge}:{prefix}{nonce}", 8):
            nonce += 1
        check(user, sale, f"{minted.challenge}:{prefix}{nonce}")


@pytest.mark.parametrize(
    ("digest", "bits"),
    [
        (bytes(32), 256),
        (b"\x80" + bytes(31), 0),
        (b"\x00\x01" + bytes(30), 15),
        (b"\x00\x00\x3f" + b"\xff" * 29, 18),
    ],
)
def test_leading_zero_bits(digest, bits):
    assert pow.leading_zero_bits(digest) == bits


def test_solves_agrees_with_leading_zero_bits():
    for i in range(2_000):
        text = f"probe:{i}"
        zeros = pow.leading_zero_bits(hashlib.sha256(text.encode()).digest())
        for difficulty in (1, 4, 8, 26):
            assert pow.solves(text, difficulty) == (zeros >= difficulty), (text, difficulty)


def test_a_buyer_solves_difficulty_16_and_the_gateway_checks_it_with_one_hash():
    user, sale = uuid4(), uuid4()
    minted = pow.mint(SECRET, user, sale, 16, expires_at_ms=NOW + TTL, random=b"\x07" * 9)
    started = time.perf_counter()
    solution = brute_force(minted.challenge, 16)
    solved_in = time.perf_counter() - started
    assert pow.leading_zero_bits(hashlib.sha256(solution.encode()).digest()) >= 16
    assert check(user, sale, solution, difficulty=16).challenge == minted.challenge
    assert solution == pow.solve(minted.challenge, 16)  # the reference solver finds the same
    assert solved_in < 10, f"a 16-bit solve took {solved_in:.1f} s"


def test_difficulty_outside_1_to_26_is_a_programming_error(issued):
    user, sale, minted = issued
    for difficulty in (0, 27):
        with pytest.raises(ValueError, match="difficulty from 1 to 26"):
            check(user, sale, f"{minted.challenge}:1", difficulty=difficulty)


def test_mint_takes_exactly_nine_random_bytes():
    with pytest.raises(ValueError, match="9 random bytes"):
        pow.mint(SECRET, uuid4(), uuid4(), 8, expires_at_ms=NOW, random=bytes(8))
