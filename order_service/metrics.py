"""The order service's own metrics (HTTP metrics come from shared.runtime.metrics)."""

from prometheus_client import Counter, Gauge, Histogram

PERSISTED = Counter("orders_outcomes_persisted_total", "Ticket outcomes persisted", ["status"])
BATCH_SIZE = Histogram(
    "orders_persist_batch_size",
    "Outcomes per Postgres transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
DB_WRITE_SECONDS = Histogram(
    "orders_db_write_seconds",
    "Time of one batch transaction",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
POISON = Counter(
    "orders_poison_messages_total", "Decision messages sent to the dead-letter queue", ["reason"]
)

# Known label values exist from the start: a series that appears only at its first increment
# loses that increment in every rate() (Prometheus has no earlier sample to compare with).
for _status in ("confirmed", "rejected"):
    PERSISTED.labels(_status)
for _reason in ("PoisonMessage", "UnsupportedVersion"):
    POISON.labels(_reason)
PAYMENTS = Counter("orders_payments_total", "Payments by step", ["step"])
WEBHOOKS = Counter("orders_webhooks_total", "Provider events applied", ["type"])
EXPIRED = Counter("orders_expired_total", "Orders expired unpaid (their units released)")
PAYMENTS.labels("started")
for _type in ("payment.succeeded", "payment.failed", "refund.succeeded"):
    WEBHOOKS.labels(_type)
RELEASES_UNPUBLISHED = Gauge(
    "orders_releases_unpublished",
    "Units of expired orders not yet sent into their sale's line (up to 500 per sweep)",
)
