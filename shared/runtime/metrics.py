"""Prometheus metrics plumbing: HTTP request metrics by route template and `/metrics`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from shared.runtime.readiness import DEPENDENCY_UP
from shared.runtime.web import Check, run_checks

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def route_of(request: web.Request) -> str:
    """The route template of a request ("/api/v1/tickets/{ticket_id}"), or "unmatched"."""
    resource = request.match_info.route.resource
    # Label by template ("/api/v1/tickets/{ticket_id}"), never by the raw path: raw paths
    # would create one time series per ticket.
    return resource.canonical if resource is not None else "unmatched"


# Label children, looked up once per (method, route, status) instead of per request.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(request: web.Request, status: int, seconds: float) -> None:
    """Count one answered request and its latency, by route template."""
    key = (request.method, route_of(request), status)
    children = _children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(key[0], key[1], str(status)),
            HTTP_LATENCY.labels(key[0], key[1]),
        )
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def metrics_routes(checks: Mapping[str, Check]) -> list[web.RouteDef]:
    """`/metrics`; each scrape first runs the readiness checks, for service_dependency_up."""

    async def metrics_handler(_: web.Request) -> web.Response:
        for name, result in (await run_checks(checks)).items():
            DEPENDENCY_UP.labels(name).set(1 if result == "ok" else 0)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/metrics", metrics_handler)]
