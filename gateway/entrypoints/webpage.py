"""The buyers' and operators' web page: plain HTML, CSS and ES modules, served from memory.

The files live in ``gateway/static/web/`` and are read once, on first use. There is no build
step: modules import each other by relative URL (``./api.js``), so every file sits directly
under ``/app/`` and an asset name never contains a slash. Only the files found there exist;
any other name is 404.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from typing import NamedTuple

from aiohttp import web

_FOLDER = "static/web"
_PAGE = "index.html"
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
}

# Everything comes from this origin; nothing inline (no <script> or <style> blocks, no style
# attributes), so an injected fragment of markup can neither run nor restyle anything.
# form-action 'none': the forms are sent by the modules; without them nothing is submitted.
# Images may come from any https origin: product pictures live on a shop's CDN (an image
# cannot run code; http is refused so a picture cannot be swapped in transit).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# No hashed file names without a build step, so a cached module could pair with a newer
# one after an upgrade: browsers revalidate every file (a 304 thanks to the ETag).
CACHE_CONTROL = "no-cache"


class _File(NamedTuple):
    body: bytes
    content_type: str
    etag: str


def _load(name: str) -> _File:
    body = resources.files("gateway").joinpath(f"{_FOLDER}/{name}").read_bytes()
    suffix = name[name.rfind(".") :]
    return _File(body, CONTENT_TYPES[suffix], f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@functools.cache
def assets() -> dict[str, _File]:
    """The page's files by name (the page itself excluded), read once."""
    folder = resources.files("gateway").joinpath(_FOLDER)
    return {
        entry.name: _load(entry.name)
        for entry in folder.iterdir()
        if entry.is_file()
        and entry.name != _PAGE
        and not entry.name.startswith(".")
        and entry.name[entry.name.rfind(".") :] in CONTENT_TYPES
    }


@functools.cache
def _page() -> _File:
    return _load(_PAGE)


def _respond(request: web.Request, file: _File) -> web.Response:
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": file.etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if file.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    charset = None if file.content_type.startswith("image/") else "utf-8"
    return web.Response(
        body=file.body, content_type=file.content_type, charset=charset, headers=headers
    )


async def page(request: web.Request) -> web.Response:
    """The single page: sales, purchases, orders and, for admins, the operator panel."""
    return _respond(request, _page())


async def asset(request: web.Request) -> web.Response:
    """One file of the page by name; only the files of static/web exist."""
    file = assets().get(request.match_info["asset"])
    if file is None:
        raise web.HTTPNotFound()
    return _respond(request, file)


routes: list[web.RouteDef] = [
    web.get("/", page),
    web.get("/app/{asset}", asset),
]
