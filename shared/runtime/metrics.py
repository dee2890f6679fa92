"""Prometheus metrics plumbing: HTTP request metrics by route template and `/metrics`."""

from __future__ import annotations

from bisect import bisect_left
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


# Requests answered since the last scrape, tallied in plain Python: a labelled child's inc()
# and observe() take a lock each (three per request), which cost ~3 µs of every request. They
# are added to the metrics above when /metrics is read (fold), so a scrape shows every request
# answered before it. Key: (method, route, status); value: [count, seconds, per-bucket counts].
_BOUNDS = tuple(HTTP_LATENCY._upper_bounds[:-1])  # the finite bucket bounds, in order
_pending: dict[tuple[str, str, int], list[Any]] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency, by route template (see fold)."""
    key = (method, route, status)
    tally = _pending.get(key)
    if tally is None:
        tally = _pending[key] = [0, 0.0, [0] * (len(_BOUNDS) + 1)]
    tally[0] += 1
    tally[1] += seconds
    # The first bucket whose bound is >= seconds, as Histogram.observe counts it.
    tally[2][bisect_left(_BOUNDS, seconds)] += 1


def fold() -> None:
    """Add what observe tallied to the request metrics (before they are read)."""
    global _pending
    pending, _pending = _pending, {}
    for (method, route, status), (count, seconds, buckets) in pending.items():
        HTTP_REQUESTS.labels(method, route, str(status)).inc(count)
        latency = HTTP_LATENCY.labels(method, route)
        # prometheus_client has no public way to add many observations at once; these are
        # the values Histogram.observe increments (tests/unit/shared/test_http_metrics.py).
        latency._sum.inc(seconds)
        for bucket, n in zip(latency._buckets, buckets, strict=True):
            if n:
                bucket.inc(n)


def metrics_routes(checks: Mapping[str, Check]) -> list[web.RouteDef]:
    """`/metrics`; each scrape first runs the readiness checks, for service_dependency_up."""

    async def metrics_handler(_: web.Request) -> web.Response:
        fold()
        for name, result in (await run_checks(checks)).items():
            DEPENDENCY_UP.labels(name).set(1 if result == "ok" else 0)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/metrics", metrics_handler)]
