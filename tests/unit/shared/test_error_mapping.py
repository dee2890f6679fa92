"""Every failure becomes the one JSON error shape with the right status; no I/O."""

import json

import pytest
import redis.exceptions
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import BaseModel, Field

from shared.contracts.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shared.runtime.publishing import PublishFailed
from shared.runtime.web import error_middleware, read_json


async def answer(exc: BaseException) -> web.Response:
    async def handler(request):
        raise exc

    response = await error_middleware(make_mocked_request("GET", "/x"), handler)
    assert isinstance(response, web.Response)
    return response


def body(response: web.Response) -> dict:
    assert isinstance(response.body, bytes)
    return json.loads(response.body)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Unauthorized(), 401, "unauthorized"),
        (Forbidden("no"), 403, "forbidden"),
        (NotFound("no such sale"), 404, "not_found"),
        (Conflict("ended", code="sale_not_active"), 409, "sale_not_active"),
        (TooManyRequests("slow down", retry_after=7), 429, "too_many_requests"),
        (ServiceUnavailable("down", retry_after=2), 503, "service_unavailable"),
        (web.HTTPNotFound(), 404, "not_found"),
        (web.HTTPMethodNotAllowed("POST", ["GET"]), 405, "method_not_allowed"),
        (web.HTTPRequestEntityTooLarge(100, 10), 413, "payload_too_large"),
        (redis.exceptions.ConnectionError("refused"), 503, "service_unavailable"),
        (redis.exceptions.ClusterDownError("CLUSTERDOWN"), 503, "service_unavailable"),
        (redis.exceptions.MasterDownError("MASTERDOWN"), 503, "service_unavailable"),
        (redis.exceptions.TryAgainError("TRYAGAIN"), 503, "service_unavailable"),
        (redis.exceptions.SlotNotCoveredError("no node"), 503, "service_unavailable"),
        (PublishFailed("nack"), 503, "service_unavailable"),
        (TimeoutError(), 503, "service_unavailable"),
        (RuntimeError("bug"), 500, "internal_error"),
    ],
)
async def test_errors_map_to_json_with_the_right_status(exc, status, code):
    response = await answer(exc)
    assert response.status == status
    assert response.content_type == "application/json"
    error = body(response)["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]


async def test_retry_after_and_auth_challenge_headers():
    assert (await answer(ServiceUnavailable("down", retry_after=3))).headers["Retry-After"] == "3"
    assert (await answer(TooManyRequests("x", retry_after=9))).headers["Retry-After"] == "9"
    assert (await answer(redis.exceptions.TimeoutError())).headers["Retry-After"] == "1"
    assert "Bearer" in str((await answer(Unauthorized())).headers["WWW-Authenticate"])


async def test_a_bug_never_leaks_its_details():
    response = await answer(RuntimeError("password=hunter2 at line 42"))
    assert "hunter2" not in str(response.text)
    assert body(response) == {"error": {"code": "internal_error", "message": "internal error"}}


class Body(BaseModel):
    stock: int = Field(ge=1)


def request_with(payload: bytes):
    request = make_mocked_request("POST", "/x", headers={"Content-Type": "application/json"})

    async def read():
        return payload

    request.read = read  # type: ignore[method-assign]
    return request


@pytest.mark.parametrize("payload", [b"{", b"[1]", b'"text"', b"", b"\xff", b"[" * 100_000])
async def test_malformed_bodies_are_400(payload):
    response = await answer_from(request_with(payload))
    assert response.status == 400
    assert body(response)["error"]["code"] == "malformed_json"


async def test_invalid_fields_are_422_with_details():
    response = await answer_from(request_with(b'{"stock": "many"}'))
    assert response.status == 422
    details = body(response)["error"]["details"]
    assert details[0]["field"] == "stock"
    assert details[0]["type"] == "int_type"


@pytest.mark.parametrize("stock", ['"5"', "5.0", "true", "null"])
async def test_types_are_strict(stock):
    response = await answer_from(request_with(b'{"stock": %s}' % stock.encode()))
    assert response.status == 422


async def answer_from(request):
    async def handler(req):
        await read_json(req, Body)
        return web.json_response({})

    return await error_middleware(request, handler)


def test_an_error_body_is_the_same_encoded_once_or_every_time():
    import json as _json

    from shared.runtime.web import error_response

    first = error_response(409, "sold_out", "the sale is sold out")
    again = error_response(409, "sold_out", "the sale is sold out", headers={"Retry-After": "2"})
    assert isinstance(first.body, bytes) and first.body == again.body
    assert _json.loads(first.body) == {
        "error": {"code": "sold_out", "message": "the sale is sold out"}
    }
    assert (first.content_type, again.headers["Retry-After"]) == ("application/json", "2")
    detailed = error_response(422, "validation_error", "bad", details=[{"field": "x"}])
    assert isinstance(detailed.body, bytes)
    assert _json.loads(detailed.body)["error"]["details"] == [{"field": "x"}]
