"""Signatures of payment webhooks, in the scheme Stripe uses; pure.

The header reads ``t=<unix seconds>,v1=<hex HMAC-SHA256>``. The timestamp is part of the
signed bytes, so it cannot be refreshed without the secret, and the tolerance bounds how long
a captured (body, header) pair can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "Payment-Signature"
TOLERANCE_SECONDS = 300

_SCHEME = "v1"
# ASCII digits only: int() would also take "+1", "1_0", " 1" and non-ASCII digits.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class InvalidSignature(Exception):
    """A webhook whose signature we refuse; ``code`` is stable, for the problem body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    # An empty key would let anyone sign: refuse a missing secret rather than accept forgeries.
    if not secret:
        raise ValueError("the webhook secret is empty")
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The header value that signs ``payload`` at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{_SCHEME}={_digest(payload, secret, timestamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the v1 signatures of a header; other schemes (v0, ...) are ignored."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidSignature(
                "signature_malformed", f"{HEADER}: {item.strip()!r} is no key=value"
            )
        key, value = key.strip(), value.strip()
        if key == "t":
            timestamps.append(value)
        elif key == _SCHEME:
            signatures.append(value)
    # Two timestamps would leave it open which one the tolerance applies to.
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise InvalidSignature("signature_malformed", f"{HEADER} needs exactly one integer t")
    if not signatures:
        raise InvalidSignature("signature_malformed", f"{HEADER} has no {_SCHEME} signature")
    return int(timestamps[0]), signatures


def verify(
    payload: bytes, header: str | None, secret: str, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> int:
    """The signed timestamp of a webhook whose header signs ``payload``; else InvalidSignature."""
    if header is None or not header.strip():
        raise InvalidSignature("signature_missing", f"the {HEADER} header is missing")
    timestamp, signatures = _parse(header)
    # Both directions: a timestamp far in the future would extend the replay window.
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(
            "signature_too_old", f"the signature's timestamp is more than {tolerance} s off"
        )
    expected = _digest(payload, secret, timestamp).encode()
    # Several v1 values are legal (Stripe sends one per secret while a secret is rolled).
    # Compare bytes: compare_digest refuses non-ASCII str, which a client could send.
    if not any(
        hmac.compare_digest(expected, candidate.encode("utf-8", "surrogateescape"))
        for candidate in signatures
    ):
        raise InvalidSignature("signature_mismatch", "no signature matches the payload")
    return timestamp
