"""HTTP plumbing every service shares: the error middleware, body parsing, health routes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

import aiohttp
import aiormq.exceptions
import asyncpg
import redis.exceptions
from aio_pika.exceptions import AMQPError
from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.contracts.errors import AppError, MalformedJson, NotFound, ValidationFailed

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Check = Callable[[], Awaitable[object]]
M = TypeVar("M", bound=BaseModel)

# Failures that mean "a dependency is down or too slow", never "the client was wrong":
# they become 503 with Retry-After instead of 500.
DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # A Redis Cluster losing a master: its slots unserved until a replica takes over
    # (CLUSTERDOWN, MASTERDOWN, TRYAGAIN while slots move, or no node known for a slot).
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.SlotNotCoveredError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    # A connection broken mid-operation (the server went away) can surface as this.
    asyncpg.InternalClientError,
    AMQPError,
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    aiohttp.ClientError,
    ConnectionError,
    TimeoutError,
)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The one JSON error shape: {"error": {"code", "message"[, "details"]}}."""
    if details is None:
        # The usual errors (sold out, not found, ...) are a few fixed bodies, encoded once:
        # a crowd that arrives after the sale sold out gets thousands of the same 409.
        body = _ENCODED.get((code, message))
        if body is None:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            if len(_ENCODED) < _MAX_ENCODED:
                _ENCODED[(code, message)] = body
    else:
        error = {"code": code, "message": message, "details": details}
        body = json.dumps({"error": error}).encode()
    return web.Response(
        body=body, status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


# Error bodies without details, by (code, message); bounded, for messages that vary.
_ENCODED: dict[tuple[str, str], bytes] = {}
_MAX_ENCODED = 1024


async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error; a client never sees a stack trace."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_answer(request, exc)
    except Exception as exc:  # CancelledError is a BaseException: it passes
        return error_answer(request, exc)


def error_answer(request: web.Request, exc: Exception) -> web.Response:
    """The JSON error for what a handler raised (an HTTPException of status 400 or more, or
    any other Exception): callers catch, this maps, so the request middleware can do both in
    its own frame instead of awaiting :func:`answer_errors` as one more layer."""
    if isinstance(exc, AppError):
        return error_response(
            exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
        )
    if isinstance(exc, web.HTTPException):
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        code = _STATUS_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason, headers=headers)
    if isinstance(exc, DEPENDENCY_ERRORS):
        log.warning(
            "dependency unavailable",
            extra={"path": request.path, "error": f"{type(exc).__name__}: {exc}"},
        )
        return error_response(
            503,
            "service_unavailable",
            "a dependency is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )
    log.error("unhandled error", exc_info=exc, extra={"path": request.path})
    return error_response(500, "internal_error", "internal error")


async def read_json(request: web.Request, model: type[M], *, allow_empty: bool = False) -> M:
    """Parse the body into ``model``: 400 for malformed JSON, 422 (with fields) for bad values."""
    raw = await request.read()  # raises 413 past client_max_size
    if not raw.strip():
        if not allow_empty:
            raise MalformedJson("the request body must be a JSON object")
        raw = b"{}"
    try:
        data = json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedJson("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedJson("the request body must be a JSON object")
    try:
        # Strict: "5", 5.0 and true are not an integer, a number is not a date. JSON has no
        # date or UUID type, so strict JSON mode still reads those from strings.
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        # pydantic's parser is stricter than json.loads (no BOM, no UTF-16/32, no lone
        # surrogates, at most 200 levels of nesting): what it cannot parse is not valid JSON.
        if any(e["type"] == "json_invalid" for e in errors):
            raise MalformedJson("the request body is not valid JSON") from None
        raise ValidationFailed(
            "the request body has invalid fields",
            details=[
                {
                    "field": ".".join(str(p) for p in e["loc"]),
                    "message": e["msg"],
                    "type": e["type"],
                }
                for e in errors
            ],
        ) from None


def _not_json(constant: str) -> None:
    """json.loads takes NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{constant} is not JSON")


error_middleware = web.middleware(answer_errors)


def model_response(model: BaseModel, *, status: int = 200, **kw: Any) -> web.Response:
    """Serialise a pydantic model (UUIDs, datetimes) as a JSON response."""
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json", **kw
    )


# A dependency that takes longer than this to answer a readiness check is as good as down.
CHECK_TIMEOUT = 2.0


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Every check in parallel: "ok" or "down: <error>" by name."""

    async def run(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return f"down: {type(exc).__name__}"
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(run(checks[n]) for n in names))
    return dict(zip(names, results, strict=True))


def health_routes(checks: Mapping[str, Check]) -> list[web.RouteDef]:
    """`/healthz` says the process is alive; `/readyz` checks every dependency in parallel."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        status = await run_checks(checks)
        ready = all(r == "ok" for r in status.values())
        return web.json_response(
            {"status": "ready" if ready else "not_ready", "checks": status},
            status=200 if ready else 503,
            headers=None if ready else {"Retry-After": "1"},
        )

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]


def path_uuid(request: web.Request, name: str, *, missing: str) -> UUID:
    """A UUID path parameter; anything else cannot name a resource, so 404 ``missing``."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound(missing) from None
