"""The inventory service's own metrics (HTTP metrics come from shared.runtime.metrics)."""

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "inventory_decisions_total",
    "Commands decided, by outcome (purchase_accepted, a reject reason, stock_added)",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "inventory_decision_batch_size",
    "Commands decided per script call",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
POISON = Counter(
    "inventory_poison_messages_total", "Intents sent to the dead-letter queue", ["reason"]
)
QUEUE_DEPTH = Gauge(
    "intent_queue_depth", "Intent messages (batches) waiting in each partition", ["partition"]
)
QUEUE_CONSUMERS = Gauge(
    "intent_queue_consumers",
    "Consumers the broker delivers each partition to: with single active consumer, only the"
    " active one (standbys are not counted)",
    ["partition"],
)
DEAD_LETTER_DEPTH = Gauge("dead_letter_queue_depth", "Messages waiting in the dead-letter queue")

# Known label values exist from the start: a series that appears only at its first increment
# loses that increment in every rate() (Prometheus has no earlier sample to compare with).
for _outcome in (
    "purchase_accepted",
    "sold_out",
    "limit_reached",
    "sale_not_active",
    "stock_added",
):
    DECISIONS.labels(_outcome)
for _reason in ("PoisonMessage", "UnsupportedVersion", "UnknownSale"):
    POISON.labels(_reason)
