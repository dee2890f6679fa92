"""HTTP routes of the auth service: parse the wire format, call a use case, answer."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from aiohttp import hdrs, web
from pydantic import BaseModel

from auth_service import handlers, metrics
from auth_service.appkeys import HASHER, JWKS_BODY, SETTINGS, THROTTLE, TOKEN_ISSUER, USERS
from auth_service.domain import Credentials, InvalidCredentials, LoginRequest, TooManyAttempts
from shared.contracts.errors import ServiceUnavailable
from shared.runtime.web import DEPENDENCY_ERRORS, model_response, read_json

# The answers that mean "try again later" (503), for the login metrics.
_UNAVAILABLE: tuple[type[BaseException], ...] = (ServiceUnavailable, *DEPENDENCY_ERRORS)

# Short: verifiers refetch on an unknown kid anyway, and a rotation should spread quickly.
JWKS_MAX_AGE_SECONDS = 60


class RegisteredUser(BaseModel):
    user_id: UUID
    username: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (RFC 6749 token type)
    expires_in: int


async def register(request: web.Request) -> web.Response:
    credentials = await read_json(request, Credentials)
    user = await handlers.register_user(
        credentials, users=request.app[USERS], hasher=request.app[HASHER]
    )
    return model_response(RegisteredUser(user_id=user.user_id, username=user.username), status=201)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginRequest)
    # The gateway names the client in X-Forwarded-For; believed only from a trusted peer.
    client = request.app[SETTINGS].forwarded_allow_ips.client_address(
        request.remote,
        request.headers.getall(hdrs.X_FORWARDED_FOR, ()),
        request.headers.getall(hdrs.FORWARDED, ()),
    )
    try:
        token = await handlers.login(
            body,
            client=client,
            users=request.app[USERS],
            hasher=request.app[HASHER],
            throttle=request.app[THROTTLE],
            tokens=request.app[TOKEN_ISSUER],
        )
    except InvalidCredentials:
        metrics.LOGINS.labels("invalid_credentials").inc()
        raise
    except TooManyAttempts as exc:
        metrics.LOGINS.labels("throttled").inc()
        metrics.THROTTLED.labels(exc.limit).inc()
        raise
    except _UNAVAILABLE:
        metrics.LOGINS.labels("unavailable").inc()
        raise
    metrics.LOGINS.labels("success").inc()
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
    """The auth service's own routes (health and metrics come from shared.runtime.service)."""
    return [
        web.post("/api/v1/auth/register", register),
        web.post("/api/v1/auth/login", login),
        web.get("/.well-known/jwks.json", jwks),
    ]
