"""gateway/entrypoints/cors.py on a bare app: closed by default, exact for configured origins."""

from __future__ import annotations

import pytest
from aiohttp import web

from gateway.entrypoints.cors import (
    ALLOWED_HEADERS,
    MAX_AGE_SECONDS,
    check_origin,
    cors_middleware,
    cors_stream_headers,
    parse_origins,
)
from shared.contracts.errors import NotFound
from shared.runtime.web import error_middleware

SHOP = "https://shop.example"
LOCAL = "http://localhost:3000"


async def things(_: web.Request) -> web.Response:
    return web.json_response([1, 2])


async def create(_: web.Request) -> web.Response:
    return web.json_response({}, status=201, headers={"Location": "/things/1"})


async def missing(_: web.Request) -> web.Response:
    raise NotFound("no such thing")


async def moved(_: web.Request) -> web.Response:
    raise web.HTTPFound("/things")


async def compressed(_: web.Request) -> web.Response:
    return web.json_response([], headers={"Vary": "Accept-Encoding"})


async def events(request: web.Request) -> web.StreamResponse:
    # Like gateway/entrypoints/streams.py: the headers go out from inside the handler.
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"event: ping\ndata: {}\n\n")
    await response.write_eof()
    return response


def make_app(origins: frozenset[str], *, streams: bool = True) -> web.Application:
    # As the gateway will have it: CORS outside the error middleware, so errors get it too.
    app = web.Application(middlewares=[cors_middleware(origins), error_middleware])
    if streams:
        app.on_response_prepare.append(cors_stream_headers(origins))
    app.add_routes(
        [
            web.get("/things", things),
            web.post("/things", create),
            web.get("/missing", missing),
            web.get("/moved", moved),
            web.get("/compressed", compressed),
            web.get("/events", events),
        ]
    )
    return app


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(make_app(frozenset({SHOP, LOCAL})))


def cors_headers(resp) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def preflight(origin: str, method: str = "POST", headers: str = "authorization,content-type"):
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("origin", [SHOP, LOCAL])
async def test_preflight_from_an_allowed_origin(client, origin):
    resp = await client.options("/things", headers=preflight(origin))
    assert resp.status == 204
    assert await resp.read() == b""
    assert cors_headers(resp) == {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
    assert ALLOWED_HEADERS == (
        "Authorization, Content-Type, Idempotency-Key, X-PoW-Solution, X-Request-ID"
    )
    assert resp.headers["Vary"] == "Origin"


NOT_ALLOWED = [
    "https://evil.example",
    "https://shop.example.evil.example",
    "https://evilshop.example",
    "https://shop.example:8443",
    "http://shop.example",
    "https://SHOP.example",
    "https://shop.example/",
    "null",
    "*",
    "",
    "https://shop.example, https://evil.example",
]


@pytest.mark.parametrize("origin", NOT_ALLOWED)
async def test_nothing_for_an_origin_that_is_not_allowed(client, origin):
    resp = await client.options("/things", headers=preflight(origin))
    assert cors_headers(resp) == {}
    assert resp.status == 405  # not a CORS answer: the route has no OPTIONS
    assert "Vary" not in resp.headers
    for method in ("GET", "POST"):
        resp = await client.request(method, "/things", headers={"Origin": origin})
        assert resp.status in (200, 201)
        assert cors_headers(resp) == {}
        assert "Vary" not in resp.headers


async def test_nothing_without_an_origin(client):
    resp = await client.get("/things")
    assert cors_headers(resp) == {}
    assert "Vary" not in resp.headers


@pytest.mark.parametrize(("method", "status"), [("GET", 200), ("POST", 201)])
async def test_answers_to_an_allowed_origin_name_it(client, method, status):
    resp = await client.request(method, "/things", headers={"Origin": SHOP})
    assert resp.status == status
    assert cors_headers(resp) == {
        "Access-Control-Allow-Origin": SHOP,
        "Access-Control-Expose-Headers": "Location, Retry-After, X-Request-ID",
    }
    assert resp.headers["Vary"] == "Origin"


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/nowhere", 404)])
async def test_errors_are_readable_by_an_allowed_origin(client, path, status):
    resp = await client.get(path, headers={"Origin": SHOP})
    assert resp.status == status
    assert resp.headers["Access-Control-Allow-Origin"] == SHOP
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_an_http_exception_that_escapes_gets_the_headers_too(client):
    resp = await client.get("/moved", headers={"Origin": SHOP}, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Access-Control-Allow-Origin"] == SHOP
    assert resp.headers["Vary"] == "Origin"


async def test_an_existing_vary_is_kept(client):
    resp = await client.get("/compressed", headers={"Origin": SHOP})
    assert resp.headers["Vary"] == "Accept-Encoding, Origin"


async def test_options_without_a_requested_method_is_no_preflight(client):
    resp = await client.options("/things", headers={"Origin": SHOP})
    assert resp.status == 405
    assert resp.headers["Access-Control-Allow-Origin"] == SHOP  # the error is readable
    assert "Access-Control-Allow-Methods" not in resp.headers


async def test_streamed_answers_get_the_headers_too(client, aiohttp_client):
    resp = await client.get("/events", headers={"Origin": SHOP})
    assert await resp.read() == b"event: ping\ndata: {}\n\n"
    assert cors_headers(resp) == {
        "Access-Control-Allow-Origin": SHOP,
        "Access-Control-Expose-Headers": "Location, Retry-After, X-Request-ID",
    }
    assert resp.headers["Vary"] == "Origin"
    resp = await client.get("/events", headers={"Origin": "https://evil.example"})
    assert cors_headers(resp) == {}
    # Why the prepare hook exists: the middleware alone comes too late for a stream.
    bare = await aiohttp_client(make_app(frozenset({SHOP}), streams=False))
    resp = await bare.get("/events", headers={"Origin": SHOP})
    assert cors_headers(resp) == {}


async def test_the_prepare_hook_leaves_what_the_middleware_did(client):
    resp = await client.options("/things", headers=preflight(SHOP))
    assert "Access-Control-Expose-Headers" not in resp.headers  # a preflight needs none
    resp = await client.get("/compressed", headers={"Origin": SHOP})
    assert resp.headers["Vary"] == "Accept-Encoding, Origin"


async def test_never_a_wildcard_nor_credentials(client):
    for origin in [SHOP, LOCAL, *NOT_ALLOWED]:
        for resp in (
            await client.options("/things", headers=preflight(origin)),
            await client.get("/things", headers={"Origin": origin}),
            await client.get("/missing", headers={"Origin": origin}),
            await client.get("/events", headers={"Origin": origin}),
        ):
            assert resp.headers.get("Access-Control-Allow-Origin") in (None, SHOP, LOCAL)
            assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_closed_when_no_origin_is_configured(aiohttp_client):
    client = await aiohttp_client(make_app(frozenset()))
    for origin in (SHOP, "null", "*"):
        resp = await client.options("/things", headers=preflight(origin))
        assert (resp.status, cors_headers(resp)) == (405, {})
        resp = await client.get("/things", headers={"Origin": origin})
        assert (resp.status, cors_headers(resp)) == (200, {})


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "null",
        "",
        "shop.example",
        "//shop.example",
        "ftp://shop.example",
        "https://",
        "https://shop.example/",
        "https://shop.example/path",
        "https://shop.example?x=1",
        "https://shop.example#top",
        "https://user:pw@shop.example",
        "https://user@shop.example",
        "https://shop.example:443",
        "http://shop.example:80",
        "https://shop.example:99999",
        "https://shop.example:port",
        "HTTPS://shop.example",
        "https://Shop.Example",
        " https://shop.example",
    ],
)
def test_a_configured_origin_must_be_exact(origin):
    with pytest.raises(ValueError, match="is not an origin"):
        check_origin(origin)
    with pytest.raises(ValueError, match="is not an origin"):
        cors_middleware(frozenset({SHOP, origin}))
    with pytest.raises(ValueError, match="is not an origin"):
        cors_stream_headers(frozenset({SHOP, origin}))


@pytest.mark.parametrize(
    "origin",
    [SHOP, LOCAL, "https://shop.example:8443", "http://127.0.0.1:8080", "http://[::1]:3000"],
)
def test_well_formed_origins_are_taken(origin):
    assert check_origin(origin) == origin


def test_parse_origins():
    assert parse_origins("") == frozenset()
    assert parse_origins(" , ") == frozenset()
    assert parse_origins(f"{SHOP}, {LOCAL},") == {SHOP, LOCAL}
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origins(f"{SHOP},*")
