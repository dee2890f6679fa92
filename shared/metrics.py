"""Prometheus metrics plumbing: HTTP request metrics by route template and `/metrics`."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from shared.web import Handler, answer_errors

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    # Label by template ("/api/v1/tickets/{ticket_id}"), never by the raw path: raw paths
    # would create one time series per ticket.
    return resource.canonical if resource is not None else "unmatched"


# Label children, looked up once per (method, route, status) instead of per request.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(request: web.Request, status: int, seconds: float) -> None:
    """Count one answered request and its latency, by route template."""
    key = (request.method, _route_of(request), status)
    children = _children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(key[0], key[1], str(status)),
            HTTP_LATENCY.labels(key[0], key[1]),
        )
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Metrics and error mapping in one layer: every middleware layer costs each request."""
    start = time.perf_counter()
    try:
        response = await answer_errors(request, handler)
    except web.HTTPException as exc:  # redirects and the like, passed through
        observe(request, exc.status, time.perf_counter() - start)
        raise
    observe(request, response.status, time.perf_counter() - start)
    return response


async def metrics_handler(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_routes() -> list[web.RouteDef]:
    return [web.get("/metrics", metrics_handler)]
