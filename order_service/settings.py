from pydantic import Field

from shared.contracts.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    port: int = Field(8083, ge=1, le=65535, description="HTTP port")
    # One Postgres transaction persists everything delivered so far, up to this many messages.
    decision_prefetch: int = Field(
        256, ge=1, le=10_000, description="decision messages in flight per consumer"
    )
