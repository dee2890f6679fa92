"""One error hierarchy for every service; shared.runtime.web maps it to JSON problem bodies."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """An error with a status, a stable machine code and a message safe to show a client."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details
        self.headers = headers or {}


class BadRequest(AppError):
    status = 400
    default_code = "bad_request"


class MalformedJson(BadRequest):
    default_code = "malformed_json"


class ValidationFailed(AppError):
    status = 422
    default_code = "validation_error"


class Unauthorized(AppError):
    status = 401
    default_code = "unauthorized"

    def __init__(self, message: str = "a valid bearer token is required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="flashsale"'})
        super().__init__(message, **kw)


class Forbidden(AppError):
    status = 403
    default_code = "forbidden"


class NotFound(AppError):
    status = 404
    default_code = "not_found"


class Conflict(AppError):
    status = 409
    default_code = "conflict"


class PreconditionRequired(AppError):
    """The request lacks something the resource requires first (a sale's proof of work)."""

    status = 428
    default_code = "precondition_required"


class _RetryLater(AppError):
    def __init__(self, message: str, *, retry_after: int = 1, **kw: Any) -> None:
        headers = {**kw.pop("headers", {}), "Retry-After": str(max(1, retry_after))}
        super().__init__(message, headers=headers, **kw)
        self.retry_after = retry_after


class TooManyRequests(_RetryLater):
    status = 429
    default_code = "too_many_requests"


class ServiceUnavailable(_RetryLater):
    """A dependency (broker, database, cache, another service) is down or too slow."""

    status = 503
    default_code = "service_unavailable"
