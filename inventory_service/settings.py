from __future__ import annotations

from pydantic import Field, model_validator

from shared.contracts.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    port: int = Field(8082, ge=1, le=65535, description="HTTP port")
    intent_prefetch: int = Field(
        64, ge=1, le=10_000, description="intent messages in flight per partition consumer"
    )
    publish_timeout: float = Field(5.0, gt=0, description="seconds to wait for a confirm")
    payment_window_seconds: int = Field(
        600, ge=5, le=86_400, description="default time a winner has to pay, per sale"
    )
    waitlist_close_interval: float = Field(
        1.0, gt=0, description="seconds between checks for ended sales with a waitlist"
    )
    redis_min_replica_acks: int = Field(
        0,
        ge=0,
        le=16,
        description="replicas that must hold a batch's decisions before they are published"
        " and acked (Redis WAIT); 0: do not wait",
    )
    redis_replica_ack_timeout_ms: int = Field(
        200, ge=1, le=60_000, description="how long a batch waits for those replicas"
    )

    @model_validator(mode="after")
    def _wait_needs_one_primary(self) -> InventorySettings:
        # WAIT counts the replicas of the connection's own server; a batch split over a
        # cluster's nodes has no one connection to ask.
        if self.redis_cluster and self.redis_min_replica_acks:
            raise ValueError("REDIS_MIN_REPLICA_ACKS is not supported with REDIS_CLUSTER")
        return self
