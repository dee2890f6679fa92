"""gateway/entrypoints/webpage.py: the page's files, their headers, and what they may refer to."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from aiohttp import web

from gateway.entrypoints import webpage

WEB = resources.files("gateway").joinpath("static/web")
PAGE = WEB.joinpath("index.html").read_text(encoding="utf-8")
MODULES = {
    entry.name: entry.read_text(encoding="utf-8")
    for entry in WEB.iterdir()
    if entry.name.endswith(".js")
}


@pytest.fixture
async def client(aiohttp_client):
    app = web.Application()
    app.add_routes(webpage.routes)
    return await aiohttp_client(app)


async def test_the_page_has_strict_headers(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    policy = dict(
        part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["img-src"] == "'self' https:"  # product pictures from a shop's CDN
    assert "unsafe" not in resp.headers["Content-Security-Policy"]
    assert (await resp.text()).startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("main.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
async def test_assets_have_their_content_type_and_revalidate(client, name, content_type):
    resp = await client.get(f"/app/{name}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    etag = resp.headers["ETag"]
    again = await client.get(f"/app/{name}", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag


@pytest.mark.parametrize(
    "path",
    [
        "/app/nope.js",
        "/app/index.html",  # the page is served at / only
        "/app/..%2Fopenapi.json",
        "/app/%2E%2E%2Fwebpage.py",
        "/app/.hidden",
        "/app/",
        "/app/main.js/",
    ],
)
async def test_unknown_assets_are_404(client, path):
    assert (await client.get(path)).status == 404


def test_the_page_refers_only_to_its_own_files():
    assets = webpage.assets()
    referenced = re.findall(r'(?:src|href)="([^"#]+)"', PAGE)
    local = [ref for ref in referenced if ref.startswith("/app/")]
    assert {ref.removeprefix("/app/") for ref in local} <= set(assets)
    # Besides its files, the page links only to the API's documentation.
    assert set(referenced) - set(local) == {"/api/docs"}
    # Nothing inline: the Content-Security-Policy would block it.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", PAGE)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", PAGE)


def test_modules_import_only_each_other_and_reach_no_other_origin():
    for name, source in MODULES.items():
        for imported in re.findall(r'^import .* from "([^"]+)";$', source, re.MULTILINE):
            assert imported.startswith("./") and imported[2:] in MODULES, (name, imported)
        assert not re.search(
            r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write", source
        ), name
        assert not re.search(r"https?://", source), name
    css = WEB.joinpath("app.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css


def test_the_spec_documents_the_page_and_exactly_its_assets():
    spec = json.loads(resources.files("gateway").joinpath("openapi.json").read_text("utf-8"))
    assert spec["paths"]["/"]["get"]["responses"]["200"]["content"].keys() == {"text/html"}
    (asset,) = spec["paths"]["/app/{asset}"]["get"]["parameters"]
    assert sorted(asset["schema"]["enum"]) == sorted(webpage.assets())
    served = {ct.split(";")[0] for ct in {f.content_type for f in webpage.assets().values()}}
    assert served <= set(spec["paths"]["/app/{asset}"]["get"]["responses"]["200"]["content"])
