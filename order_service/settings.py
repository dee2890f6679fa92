from pydantic import Field

from shared.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    port: int = 8083
    # Decision messages (each a batch of events) in flight per consumer; one Postgres
    # transaction persists everything delivered so far, up to this many messages.
    decision_prefetch: int = Field(default=256, ge=1, le=10_000)
