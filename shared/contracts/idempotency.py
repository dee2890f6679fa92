"""The Idempotency-Key header every service that takes one reads the same way."""

from __future__ import annotations

import re

from shared.contracts.errors import BadRequest

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def idempotency_key(header: str | None) -> str | None:
    """The validated Idempotency-Key header, if any."""
    if header is None:
        return None
    if not _IDEMPOTENCY_KEY.match(header):
        raise BadRequest(
            "Idempotency-Key must be 1-128 visible ASCII characters",
            code="invalid_idempotency_key",
        )
    return header
