"""A sale's proof of work (issue 14): challenges and the check of their solutions, pure.

A challenge is stateless, so issuing one stores nothing: 27 bytes, written as 36 characters of
base64url (no padding, so every such string decodes to one value and back, and no ':'):

    expiry (6 bytes, ms since the epoch) | random (9 bytes) | tag (12 bytes)

where the tag is the first 12 bytes of HMAC-SHA256(secret, context | expiry | random | user |
sale | difficulty). Only a gateway with the secret can mint one, and it holds only for the
buyer, sale and difficulty it was minted for. A solution is ``<challenge>:<nonce>`` whose
SHA-256 (of that UTF-8 string) starts with at least ``difficulty`` zero bits: one hash to
check, about 2**difficulty for the buyer to find. That it is used once is the caller's part
(gateway/adapters/redis_pow.py remembers used challenges until they expire).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.errors import Forbidden, PreconditionRequired

HEADER = "X-PoW-Solution"
MAX_DIFFICULTY = 26  # as the sale's terms allow (inventory_service.domain)
_CONTEXT = b"flashsale-pow-v1"
_EXPIRY_BYTES, _RANDOM_BYTES, _TAG_BYTES = 6, 9, 12
_SIGNED_BYTES = _EXPIRY_BYTES + _RANDOM_BYTES
CHALLENGE_CHARS = 4 * (_SIGNED_BYTES + _TAG_BYTES) // 3  # 36
_CHALLENGE = re.compile(rf"[A-Za-z0-9_-]{{{CHALLENGE_CHARS}}}")
# A nonce is whatever the buyer counts with: a decimal counter, hex, base64url.
_NONCE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Challenge(BaseModel):
    """The answer of GET /api/v1/sales/{id}/challenge."""

    model_config = ConfigDict(frozen=True)

    challenge: str
    difficulty: int
    expires_at: datetime


@dataclass(frozen=True)
class Verified:
    """A solution that holds: its challenge, and how long (ms) that stays valid."""

    challenge: str
    remaining_ms: int


def _tag(secret: bytes, signed: bytes, user_id: UUID, sale_id: UUID, difficulty: int) -> bytes:
    message = b"".join((_CONTEXT, signed, user_id.bytes, sale_id.bytes, bytes([difficulty])))
    return hmac.digest(secret, message, "sha256")[:_TAG_BYTES]


def mint(
    secret: bytes,
    user_id: UUID,
    sale_id: UUID,
    difficulty: int,
    *,
    expires_at_ms: int,
    random: bytes,
) -> Challenge:
    """A challenge for this buyer, sale and difficulty, valid until ``expires_at_ms``;
    ``random`` is 9 fresh random bytes (the caller's, so this stays free of I/O)."""
    if len(random) != _RANDOM_BYTES:
        raise ValueError(f"a challenge takes {_RANDOM_BYTES} random bytes")
    signed = expires_at_ms.to_bytes(_EXPIRY_BYTES, "big") + random
    raw = signed + _tag(secret, signed, user_id, sale_id, difficulty)
    return Challenge(
        challenge=base64.urlsafe_b64encode(raw).decode("ascii"),
        difficulty=difficulty,
        expires_at=datetime.fromtimestamp(expires_at_ms / 1000, UTC),
    )


def leading_zero_bits(digest: bytes) -> int:
    """How many bits at the start of ``digest`` are zero."""
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(solution: str, difficulty: int) -> bool:
    """Whether SHA-256 of ``solution`` starts with at least ``difficulty`` zero bits."""
    digest = hashlib.sha256(solution.encode()).digest()
    # The first 4 bytes hold every difficulty allowed (at most 26 bits).
    return int.from_bytes(digest[:4], "big") >> (32 - difficulty) == 0


def _invalid(message: str) -> Forbidden:
    return Forbidden(message, code="pow_invalid")


def check(
    secret: bytes,
    user_id: UUID,
    sale_id: UUID,
    difficulty: int,
    solution: str | None,
    *,
    now_ms: int,
) -> Verified:
    """The challenge of ``solution`` if it solves a challenge minted for this buyer, sale and
    difficulty that has not expired; 428 ``pow_required`` without one, 403 ``pow_invalid``
    otherwise. Whether it was used before is not checked here."""
    if not 0 < difficulty <= MAX_DIFFICULTY:
        raise ValueError(f"a proof of work needs a difficulty from 1 to {MAX_DIFFICULTY}")
    if solution is None:
        raise PreconditionRequired(
            f"this sale needs a proof of work: fetch a challenge from"
            f" /api/v1/sales/{sale_id}/challenge and send {HEADER}: <challenge>:<nonce>",
            code="pow_required",
        )
    challenge, _, nonce = solution.rpartition(":")
    if not (_CHALLENGE.fullmatch(challenge) and _NONCE.fullmatch(nonce)):
        raise _invalid(f"{HEADER} must be <challenge>:<nonce> (nonce: 1-64 of A-Z a-z 0-9 . _ -)")
    raw = base64.urlsafe_b64decode(challenge)
    signed, tag = raw[:_SIGNED_BYTES], raw[_SIGNED_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, signed, user_id, sale_id, difficulty)):
        raise _invalid("this challenge was not issued to you for this sale")
    remaining = int.from_bytes(signed[:_EXPIRY_BYTES], "big") - now_ms
    if remaining <= 0:
        raise _invalid("this challenge has expired: fetch a new one")
    if not solves(solution, difficulty):
        raise _invalid(f"the solution's SHA-256 does not start with {difficulty} zero bits")
    return Verified(challenge, remaining)


def solve(challenge: str, difficulty: int) -> str:
    """A solution of ``challenge`` (the buyer's side: about 2**difficulty hashes); for the
    bench, and as the reference a client can follow."""
    nonce = 0
    while not solves(f"{challenge}:{nonce}", difficulty):
        nonce += 1
    return f"{challenge}:{nonce}"
