"""Issuing access tokens: RS256, `kid` header, the claims shared/contracts/tokens.py defines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from auth_service.signing_keys import SigningKey
from shared.contracts.tokens import ALGORITHM, Role


def token_claims(
    *,
    user_id: UUID,
    username: str,
    role: Role,
    issuer: str,
    audience: str,
    issued_at: int,
    ttl_seconds: int,
) -> dict[str, Any]:
    """The claim set of the token contract, nothing more."""
    return {
        "sub": str(user_id),
        "name": username,
        "role": role,
        "iss": issuer,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
    }


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenIssuer:
    """Signs tokens with one key for one issuer and audience."""

    key: SigningKey
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(
        self,
        *,
        user_id: UUID,
        username: str,
        role: Role,
        now: int | None = None,
        ttl_seconds: int | None = None,
    ) -> IssuedToken:
        """A signed token for the user, valid from ``now`` (default: this second)."""
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        claims = token_claims(
            user_id=user_id,
            username=username,
            role=role,
            issuer=self.issuer,
            audience=self.audience,
            issued_at=int(time.time()) if now is None else now,
            ttl_seconds=ttl,
        )
        token = jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )
        return IssuedToken(token, ttl)
