from pydantic import Field

from shared.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    port: int = 8082
    # Messages (each a batch of intents) in flight per partition consumer.
    intent_prefetch: int = Field(default=64, ge=1, le=10_000)
    publish_timeout: float = Field(default=5.0, gt=0)
    intent_queue_max_length: int = Field(default=100_000, ge=1)
