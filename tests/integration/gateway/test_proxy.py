"""Forwarding: nothing but the public routes is reachable through the gateway."""

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from gateway.proxy import Upstream
from shared.service import create_base_app


@pytest.fixture
async def upstream(aiohttp_server):
    app = web.Application()

    async def login(request):
        return web.json_response(
            {"forwarded_for": request.headers.get("X-Forwarded-For")}, headers={"X-Secret": "no"}
        )

    async def metrics(request):
        return web.Response(text="internal")

    app.add_routes([web.post("/api/v1/auth/login", login), web.get("/metrics", metrics)])
    return await aiohttp_server(app)


@pytest.fixture
async def gateway(aiohttp_client, upstream):
    app = create_base_app({})
    session = aiohttp.ClientSession()
    target = Upstream(session, str(upstream.make_url("/")), "auth", timeout=5)
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


async def test_forwarding_appends_the_peer_and_keeps_only_known_headers(gateway):
    resp = await gateway.post("/api/v1/auth/login", json={}, headers={"X-Forwarded-For": "6.6.6.6"})
    assert resp.status == 200
    assert (await resp.json())["forwarded_for"] == "6.6.6.6, 127.0.0.1"
    assert "X-Secret" not in resp.headers


async def test_method_not_allowed_keeps_allow(gateway):
    resp = await gateway.request("TRACE", "/api/v1/auth/login")
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
