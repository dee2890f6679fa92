"""The documentation routes over HTTP: the document, the page, and its offline assets."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from aiohttp import web

from gateway.entrypoints import docs

EXTERNAL_URL = re.compile(r"https?://", re.IGNORECASE)


@pytest.fixture
async def client(aiohttp_client):
    app = web.Application()
    app.add_routes(docs.routes)
    return await aiohttp_client(app)


async def test_serves_the_openapi_document(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert resp.headers["Cache-Control"]
    on_disk = resources.files("gateway").joinpath("openapi.json").read_text(encoding="utf-8")
    assert await resp.json() == json.loads(on_disk)


async def test_the_page_loads_only_local_assets(client):
    resp = await client.get("/api/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.charset == "utf-8"
    assert resp.headers["Cache-Control"]
    html = await resp.text()
    assert not EXTERNAL_URL.search(html)
    # No inline script: every <script> has a src and an empty body.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    referenced = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert {
        "/api/docs/static/swagger-ui.css",
        "/api/docs/static/swagger-ui-bundle.js",
        "/api/docs/static/init.js",
    } <= set(referenced)
    for url in referenced:
        asset = await client.get(url)
        assert asset.status == 200, url


async def test_the_page_forbids_inline_and_foreign_scripts(client):
    resp = await client.get("/api/docs")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in resp.headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"


async def test_init_script_loads_the_local_document(client):
    resp = await client.get("/api/docs/static/init.js")
    script = await resp.text()
    assert not EXTERNAL_URL.search(script)
    assert '"/api/openapi.json"' in script


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("init.js", "text/javascript"),
        ("LICENSE", "text/plain"),
        ("NOTICE", "text/plain"),
        ("swagger-ui-bundle.js.LICENSE.txt", "text/plain"),
    ],
)
async def test_each_asset_has_its_content_type(client, name, content_type):
    resp = await client.get(f"/api/docs/static/{name}")
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Cache-Control"] == "public, max-age=3600"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert len(await resp.read()) > 0


def test_every_asset_is_tested():
    assert set(docs.ASSETS) == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "init.js",
        "LICENSE",
        "NOTICE",
        "swagger-ui-bundle.js.LICENSE.txt",
    }


@pytest.mark.parametrize("name", ["docs.html", "..%2Fopenapi.json", "swagger-ui.js"])
async def test_other_names_are_not_found(client, name):
    resp = await client.get(f"/api/docs/static/{name}")
    assert resp.status == 404
