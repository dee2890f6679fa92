from pydantic import Field

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    port: int = 8080
    # Purchases arriving within this window share one confirmed publish.
    publish_linger_ms: float = Field(default=1.0, ge=0, le=100)
    publish_max_batch: int = Field(default=500, ge=1, le=10_000)
    publish_timeout: float = Field(default=5.0, gt=0)
    upstream_timeout: float = Field(default=10.0, gt=0)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
