"""CORS: closed unless configured, and for a configured origin only what its browser needs.

A browser lets a page on another origin read an answer only if the answer names that origin.
Nothing is added for an origin that is not configured, `*` is never sent, and credentials are
never allowed: the API authenticates with a bearer token, not with cookies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-PoW-Solution, X-Request-ID"
# Besides the CORS-safelisted headers, a page may read the ticket's URL after a 202, how
# long to wait after a 429 or 503, and the request id to quote when something went wrong.
EXPOSED_HEADERS = "Location, Retry-After, X-Request-ID"
MAX_AGE_SECONDS = 600

_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_origin(origin: str) -> str:
    """``origin`` if it is an origin exactly as browsers send it; ValueError otherwise.

    Origins are compared as strings, so a configured value in any other form (a trailing
    slash, capitals, a default port) would never match: better to refuse it at start-up.
    """
    problem = _origin_problem(origin)
    if problem:
        raise ValueError(f"{origin!r} is not an origin such as https://shop.example: {problem}")
    return origin


def _origin_problem(origin: str) -> str | None:
    if origin in ("*", "null"):
        return "name each allowed origin"
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS:
        return "the scheme must be http or https"
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return "it needs a host, and no user name or password"
    try:
        port = parts.port
    except ValueError:
        return "the port is not a number from 0 to 65535"
    if port == _DEFAULT_PORTS[parts.scheme]:
        return "browsers leave the default port out"
    if origin != origin.lower():
        return "browsers send it in lower case"
    if origin != f"{parts.scheme}://{parts.netloc}":
        return "it has no path, query or fragment, not even a trailing slash"
    return None


def parse_origins(text: str) -> frozenset[str]:
    """The origins of a comma-separated list (empty: none); ValueError for a malformed one."""
    return frozenset(check_origin(part.strip()) for part in text.split(",") if part.strip())


def cors_middleware(allowed_origins: Iterable[str]) -> Middleware:
    """Answer preflights from ``allowed_origins`` and let their pages read the answers."""
    origins = frozenset(check_origin(origin) for origin in allowed_origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or origin not in origins:
            # Unchanged: without Access-Control-Allow-Origin the browser keeps the answer
            # from the page (and a preflight fails), which is the point.
            return await handler(request)
        if (
            request.method == hdrs.METH_OPTIONS
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        ):
            headers: dict[str, str] = {
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOWED_METHODS,
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOWED_HEADERS,
                hdrs.ACCESS_CONTROL_MAX_AGE: str(MAX_AGE_SECONDS),
            }
            _allow(headers, origin, expose=False)
            return web.Response(status=204, headers=headers)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # an error or redirect no middleware turned into JSON
            _allow(exc.headers, origin, expose=True)
            raise
        if not response.prepared:  # a streamed answer: see cors_stream_headers
            _allow(response.headers, origin, expose=True)
        return response

    return cors


def cors_stream_headers(
    allowed_origins: Iterable[str],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` handler: the same headers on answers a handler streams.

    A streamed answer (server-sent events) sends its headers from inside the handler, before
    the middleware sees it; this adds them just before they are sent.
    """
    origins = frozenset(check_origin(origin) for origin in allowed_origins)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin in origins and hdrs.ACCESS_CONTROL_ALLOW_ORIGIN not in response.headers:
            _allow(response.headers, origin, expose=True)

    return on_prepare


def _allow(headers: MutableMapping[str, str], origin: str, *, expose: bool) -> None:
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    if expose:
        headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS
    # The answer depends on Origin: a shared cache must not give it to another origin.
    vary = headers.get(hdrs.VARY)
    if vary is None:
        headers[hdrs.VARY] = "Origin"
    elif vary.strip() != "*" and "origin" not in {v.strip().lower() for v in vary.split(",")}:
        headers[hdrs.VARY] = f"{vary}, Origin"
