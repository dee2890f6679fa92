"""The inventory service's own metrics (HTTP metrics come from shared.metrics)."""

from prometheus_client import Counter, Histogram

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
