"""Readiness as a metric: whether each dependency answered at the last check.

`/readyz` answers a load balancer; alerting needs the same facts in Prometheus, so every
scrape of `/metrics` runs the same checks and sets this gauge (see shared.runtime.metrics).
"""

from prometheus_client import Gauge

DEPENDENCY_UP = Gauge(
    "service_dependency_up",
    "1 if the dependency answered the service's readiness check at the last scrape, else 0",
    ["dependency"],
)
