"""HTTP routes of the auth service: parse the wire format, call a use case, answer."""

from __future__ import annotations

import ipaddress
from typing import Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel

from auth_service import handlers
from auth_service.appkeys import HASHER, JWKS_BODY, THROTTLE, TOKEN_ISSUER, USERS
from auth_service.domain import Credentials, LoginRequest
from shared.web import model_response, read_json

# Short: verifiers refetch on an unknown kid anyway, and a rotation should spread quickly.
JWKS_MAX_AGE_SECONDS = 60


class RegisteredUser(BaseModel):
    user_id: UUID
    username: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (RFC 6749 token type)
    expires_in: int


def client_address(forwarded_for: str | None, peer: str | None) -> str:
    """The last X-Forwarded-For entry (the gateway appends it) if it is an IP, else the peer."""
    last = (forwarded_for or "").rsplit(",", 1)[-1].strip()
    for candidate in (last, peer or ""):
        try:
            # Normalised, and only ever an address: keeps Redis keys short and well-formed.
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return "unknown"


async def register(request: web.Request) -> web.Response:
    credentials = await read_json(request, Credentials)
    user = await handlers.register_user(
        credentials, users=request.app[USERS], hasher=request.app[HASHER]
    )
    return model_response(RegisteredUser(user_id=user.user_id, username=user.username), status=201)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginRequest)
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    token = await handlers.login(
        body,
        client=client_address(forwarded, request.remote),
        users=request.app[USERS],
        hasher=request.app[HASHER],
        throttle=request.app[THROTTLE],
        tokens=request.app[TOKEN_ISSUER],
    )
    return model_response(
        TokenResponse(access_token=token.access_token, expires_in=token.expires_in),
        headers={"Cache-Control": "no-store"},
    )


async def jwks(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[JWKS_BODY],
        content_type="application/json",
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )


def routes() -> list[web.RouteDef]:
    """The auth service's own routes (health and metrics come from shared.service)."""
    return [
        web.post("/api/v1/auth/register", register),
        web.post("/api/v1/auth/login", login),
        web.get("/.well-known/jwks.json", jwks),
    ]
