"""Forwarding: only the public routes are reachable, with the client and request id named."""

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from gateway.adapters.http_upstream import Upstream
from gateway.settings import GatewaySettings
from shared.runtime.forwarding import TrustedProxies
from shared.runtime.service import create_base_app


@pytest.fixture
async def upstream(aiohttp_server):
    app = web.Application()

    async def login(request):
        return web.json_response(
            {
                "forwarded_for": request.headers.getall("X-Forwarded-For", []),
                "request_id": request.headers.get("X-Request-ID"),
            },
            headers={"X-Secret": "no"},
        )

    async def metrics(request):
        return web.Response(text="internal")

    app.add_routes([web.post("/api/v1/auth/login", login), web.get("/metrics", metrics)])
    return await aiohttp_server(app)


@pytest.fixture
def proxies():
    """Whose forwarding headers the gateway believes (none, as by default)."""
    return TrustedProxies()


@pytest.fixture
async def gateway(aiohttp_client, upstream, proxies):
    settings = GatewaySettings(forwarded_allow_ips=proxies)
    app = create_base_app({}, service="gateway", settings=settings, proxies=proxies)
    session = aiohttp.ClientSession()
    target = Upstream(session, str(upstream.make_url("/")), "auth", timeout=5, proxies=proxies)
    app.add_routes([web.route("*", "/api/v1/auth/{tail:.*}", target.forward)])
    client = await aiohttp_client(app)
    yield client
    await session.close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/metrics",
        "/api/v1/auth/%2E%2E/%2E%2E/%2E%2E/metrics",
        "/api/v1/auth/./../../../metrics",
        "/api/v1/auth/login/%2e",
    ],
)
async def test_dot_segments_cannot_escape_the_forwarded_prefix(gateway, path):
    # Sent as is: a client library would resolve the dots before they reach the gateway.
    url = URL(str(gateway.make_url("/")).rstrip("/") + path, encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 404
        assert "internal" not in await resp.text()


async def test_forwarding_names_the_peer_alone_and_keeps_only_known_headers(gateway):
    # The peer (127.0.0.1) is no trusted proxy: what it claims in X-Forwarded-For is dropped.
    resp = await gateway.post("/api/v1/auth/login", json={}, headers={"X-Forwarded-For": "6.6.6.6"})
    assert resp.status == 200
    assert (await resp.json())["forwarded_for"] == ["127.0.0.1"]
    assert "X-Secret" not in resp.headers


@pytest.mark.parametrize("proxies", [TrustedProxies.parse("127.0.0.1")])
async def test_behind_a_trusted_proxy_the_client_it_names_is_passed_on(gateway):
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    resp = await gateway.post("/api/v1/auth/login", json={}, headers=headers)
    assert (await resp.json())["forwarded_for"] == ["198.51.100.7"]


async def test_the_request_id_is_passed_on_and_answered(gateway):
    resp = await gateway.post("/api/v1/auth/login", json={}, headers={"X-Request-ID": "abc-123"})
    assert (await resp.json())["request_id"] == "abc-123"
    assert resp.headers["X-Request-ID"] == "abc-123"
    # Without one (or with one that is not visible ASCII) the gateway makes one up.
    for headers in ({}, {"X-Request-ID": "x" * 129}):
        resp = await gateway.post("/api/v1/auth/login", json={}, headers=headers)
        made = (await resp.json())["request_id"]
        assert made and made != "x" * 129
        assert resp.headers["X-Request-ID"] == made


async def test_method_not_allowed_keeps_allow(gateway):
    resp = await gateway.request("TRACE", "/api/v1/auth/login")
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
