"""The gateway's own metrics (HTTP metrics come from shared.runtime.metrics)."""

from prometheus_client import Counter, Gauge, Histogram

INTENTS_PUBLISHED = Counter("gateway_intents_published_total", "Purchases confirmed by the broker")
PUBLISH_FAILURES = Counter(
    "gateway_publish_failures_total", "Intent batches the broker did not confirm"
)
PUBLISH_BATCH_SIZE = Histogram(
    "gateway_publish_batch_size",
    "Purchases per confirmed publish",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
SSE_STREAMS = Gauge("sse_streams_open", "Server-sent event streams open", ["stream"])
