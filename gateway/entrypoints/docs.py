"""The API's documentation: the OpenAPI document and a Swagger UI that works offline."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final, NamedTuple

from aiohttp import web

_JS = "text/javascript"
_CSS = "text/css"
_TEXT = "text/plain"


class _File(NamedTuple):
    path: str  # inside the gateway package
    content_type: str
    cache_control: str


# The page and the document change with every release and are small: revalidate each time.
# The assets are large; an hour of staleness after an upgrade is harmless.
_FRESH = "no-cache"
_ASSET = "public, max-age=3600"

_OPENAPI = _File("openapi.json", "application/json", _FRESH)
_PAGE = _File("static/docs.html", "text/html", _FRESH)
ASSETS: Final[dict[str, _File]] = {
    name: _File(f"static/swagger-ui/{name}", content_type, _ASSET)
    for name, content_type in {
        "swagger-ui-bundle.js": _JS,
        "swagger-ui.css": _CSS,
        "init.js": _JS,
        "LICENSE": _TEXT,
        "NOTICE": _TEXT,
        "swagger-ui-bundle.js.LICENSE.txt": _TEXT,
    }.items()
}

# The page shows nothing from users, but a strict policy still keeps a future injection inert.
# Swagger UI sets inline styles and draws its icons as data: SVGs, hence those two allowances.
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@functools.cache
def _body(path: str) -> bytes:
    # Package data never changes while the process runs: read each file once, on first use
    # (a few milliseconds for the 1.7 MB bundle), and serve it from memory afterwards.
    return resources.files("gateway").joinpath(path).read_bytes()


def _respond(file: _File, extra_headers: dict[str, str] | None = None) -> web.Response:
    headers = {
        "Cache-Control": file.cache_control,
        "X-Content-Type-Options": "nosniff",
        **(extra_headers or {}),
    }
    # JSON is UTF-8 by definition and takes no charset parameter (RFC 8259).
    charset = None if file.content_type == "application/json" else "utf-8"
    return web.Response(
        body=_body(file.path), content_type=file.content_type, charset=charset, headers=headers
    )


async def openapi_document(_: web.Request) -> web.Response:
    """The OpenAPI document of the public API."""
    return _respond(_OPENAPI)


async def docs_page(_: web.Request) -> web.Response:
    """Swagger UI, loading only files served below."""
    return _respond(_PAGE, {"Content-Security-Policy": _PAGE_CSP, "Referrer-Policy": "no-referrer"})


async def docs_asset(request: web.Request) -> web.Response:
    """One vendored file of the page, by name; only the names in ASSETS exist."""
    file = ASSETS.get(request.match_info["asset"])
    if file is None:
        raise web.HTTPNotFound()
    return _respond(file)


routes: list[web.RouteDef] = [
    web.get("/api/openapi.json", openapi_document),
    web.get("/api/docs", docs_page),
    web.get("/api/docs/static/{asset}", docs_asset),
]
