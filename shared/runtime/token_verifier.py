"""Verifying bearer tokens against the auth service's JWKS (the contract: shared.contracts.tokens).

Tokens are RS256 JWTs; the verifier pins the algorithm (no `none`, no HS256 with the public
key), requires every claim, and checks issuer and audience. Keys come from the JWKS, fetched
with aiohttp (PyJWKClient would block the loop), and are refetched when a token names an
unknown `kid`, at most once per `refresh_interval` so that random kids cannot hammer auth.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections import OrderedDict
from typing import Any

import aiohttp
import jwt
from pydantic import ValidationError

from shared.contracts.errors import Forbidden, ServiceUnavailable, Unauthorized
from shared.contracts.tokens import ALGORITHM, REQUIRED_CLAIMS, Claims


class TokenVerifier:
    """Verifies bearer tokens against a JWKS URL, caching keys and verified tokens."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        refresh_interval: float = 1.0,
        cache_size: int = 100_000,
        leeway: float = 0.0,
    ) -> None:
        self._session = session
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._refresh_interval = refresh_interval
        self._leeway = leeway
        self._keys: dict[str, Any] = {}
        self._last_fetch = -float("inf")
        self._fetch_lock = asyncio.Lock()
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Claims:
        """Claims of a valid token; Unauthorized for anything else."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp > time.time():
                return cached
            del self._cache[token]
        claims = await self._verify_uncached(token)
        self._cache[token] = claims
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return claims

    async def _verify_uncached(self, token: str) -> Claims:
        header = _unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("the token's algorithm is not accepted", code="invalid_token")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("the token has no key id", code="invalid_token")
        key = await self._key(kid)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is invalid", code="invalid_token") from None
        try:
            return Claims.model_validate(payload)
        except ValidationError:
            raise Unauthorized("the token's claims are invalid", code="invalid_token") from None

    async def _key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._fetch_lock:
            if kid not in self._keys and (
                time.monotonic() - self._last_fetch >= self._refresh_interval
            ):
                await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("the token was signed by an unknown key", code="invalid_token")
        return key

    async def _fetch(self) -> None:
        try:
            async with self._session.get(
                self._jwks_url, timeout=aiohttp.ClientTimeout(total=3)
            ) as resp:
                resp.raise_for_status()
                body = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable("cannot fetch the token signing keys", retry_after=2) from exc
        self._last_fetch = time.monotonic()
        keys: dict[str, Any] = {}
        for jwk in jwt.PyJWKSet.from_json(body).keys:
            if jwk.key_id and jwk.algorithm_name == ALGORITHM:
                keys[jwk.key_id] = jwk.key
        # Replace, not merge: a key the auth service withdrew stops verifying.
        self._keys = keys


def _unverified_header(token: str) -> dict[str, Any]:
    """The header of a token, only to choose the key; `jwt.decode` then checks everything.

    Not `jwt.get_unverified_header`: it validates every segment's alphabet one character at a
    time (~21 µs a token), which `jwt.decode` repeats anyway; in a flash sale most requests
    carry a token the gateway has not seen yet.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):  # ValueError covers JSON and UTF-8 errors
        header = None
    if not isinstance(header, dict):
        raise Unauthorized("the token is malformed", code="invalid_token")
    return header


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("the Authorization header is missing", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
    return token.strip()


def require_admin(claims: Claims) -> Claims:
    if claims.role != "admin":
        raise Forbidden("this needs an admin account")
    return claims
