from pydantic import Field

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
