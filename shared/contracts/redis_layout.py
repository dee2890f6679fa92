"""Redis key layout: the contract between the gateway, inventory and order services.

Every key and channel starts with the namespace, so tests and deployments can share a Redis.
The inventory service owns the sale hashes and per-user counters (it alone decides); the
gateway creates ticket records; the order service finalises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

# Fields of a sale hash. The decision script alone changes stock, remaining, accepted,
# rejected and version (which grows with every change, so readers can order snapshots);
# gateways add to enqueued (intents the broker confirmed), so that enqueued - accepted -
# rejected is the demand still waiting in line.
SALE_FIELDS = (
    "name",
    "stock",
    "remaining",
    "accepted",
    "rejected",
    "enqueued",
    "version",
    "starts_at_ms",
    "ends_at_ms",
    "per_user_limit",
)

# Fields of a ticket hash.
TICKET_FIELDS = ("sale_id", "user_id", "status", "reason", "order_id")


@dataclass(frozen=True)
class Keys:
    namespace: str

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:"

    @property
    def sales_index(self) -> str:
        """Sorted set of sale ids, scored by start time."""
        return f"{self.namespace}:sales"

    def sale(self, sale_id: UUID | str) -> str:
        return f"{self.namespace}:sale:{sale_id}"

    def buyers(self, sale_id: UUID | str) -> str:
        """Hash user id -> units accepted for that user in the sale."""
        return f"{self.namespace}:sale:{sale_id}:buyers"

    @property
    def sale_updates(self) -> str:
        """Pub/sub channel: a sale's counters after each change (JSON, see decide.lua)."""
        return f"{self.namespace}:sale-updates"

    @property
    def ticket_updates(self) -> str:
        """Pub/sub channel: ticket status changes, a JSON list of [ticket, status, reason,
        order] (empty strings for none), published per batch by the decider (accepted) and
        the order service (confirmed / rejected)."""
        return f"{self.namespace}:ticket-updates"

    def ticket(self, ticket_id: UUID | str) -> str:
        return f"{self.namespace}:ticket:{ticket_id}"

    def idempotency(self, user_id: UUID | str, key: str) -> str:
        return f"{self.namespace}:idem:{user_id}:{key}"

    def command(self, command_id: UUID | str) -> str:
        """Outcome of an operator command (stock top-up), for idempotent redelivery."""
        return f"{self.namespace}:cmd:{command_id}"
