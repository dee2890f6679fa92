"""The request metrics, tallied per request and added to Prometheus's at a scrape: the same
series and values as observing each request directly."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from shared.runtime import metrics


def _samples(route: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in [*metrics.HTTP_LATENCY.collect(), *metrics.HTTP_REQUESTS.collect()]:
        for sample in family.samples:
            if sample.labels.get("route") == route and not sample.name.endswith("_created"):
                found[(sample.name, sample.labels.get("le") or sample.labels.get("status", ""))] = (
                    sample.value
                )
    return found


def test_a_scrape_shows_what_direct_observation_would():
    route = "/test/http-metrics/{id}"
    durations = [0.0005, 0.001, 0.0011, 0.03, 0.03, 0.7, 12.0]
    # What prometheus_client itself makes of them, in a registry of their own.
    registry = CollectorRegistry()
    requests = Counter("http_requests_total", "x", ["method", "route", "status"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds",
        "x",
        ["method", "route"],
        buckets=metrics.HTTP_LATENCY._upper_bounds[:-1],
        registry=registry,
    )
    for seconds in durations:
        metrics.observe("POST", route, 202, seconds)
        requests.labels("POST", route, "202").inc()
        latency.labels("POST", route).observe(seconds)
    metrics.observe("POST", route, 409, 0.002)
    requests.labels("POST", route, "409").inc()
    latency.labels("POST", route).observe(0.002)
    assert _samples(route) == {}  # nothing until a scrape folds the tally in
    metrics.fold()
    expected = {}
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                key = (sample.name, sample.labels.get("le") or sample.labels.get("status", ""))
                expected[key] = sample.value
    assert _samples(route) == expected
    assert expected[("http_request_duration_seconds_count", "")] == 8
    assert b'route="/test/http-metrics/{id}"' in generate_latest()
    metrics.fold()  # a second scrape adds nothing more
    assert _samples(route) == expected
