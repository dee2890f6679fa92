"""OrderSettings: what the order service reads from the environment, validated once at start."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.contracts.settings import ServiceSettings

# Signs the simulated provider's webhooks in development when no secret is set: every
# replica must share one, and production refuses it (see _production).
DEVELOPMENT_WEBHOOK_SECRET = "whsec_development_only_never_in_production"  # noqa: S105 refused in production


class OrderSettings(ServiceSettings):
    port: int = Field(8083, ge=1, le=65535, description="HTTP port")
    # One Postgres transaction persists everything delivered so far, up to this many messages.
    decision_prefetch: int = Field(
        256, ge=1, le=10_000, description="decision messages in flight per consumer"
    )
    app_env: Literal["development", "production"] = Field(
        "development",
        description="production refuses the simulated payment provider and a missing secret",
    )
    payment_provider: Literal["simulated"] = Field(
        "simulated", description="who charges cards (simulated: for development and tests)"
    )
    payment_webhook_secret: SecretStr | None = Field(
        None, min_length=16, description="signs the provider's webhooks (required in production)"
    )
    payment_webhook_url: str | None = Field(
        None,
        description="where the simulated provider sends its webhooks (default: this service)",
    )
    simulated_payment_delay: float = Field(
        0.05, ge=0, le=60, description="seconds before the simulated provider confirms"
    )
    simulated_slow_payment_seconds: float = Field(
        3.0, ge=0, le=600, description="seconds before pm_card_slow is confirmed"
    )
    expiry_interval: float = Field(
        0.2, gt=0, le=60, description="seconds between sweeps for unpaid orders past pay_by"
    )
    publish_timeout: float = Field(5.0, gt=0, description="seconds to wait for a confirm")

    @field_validator("payment_webhook_secret", "payment_webhook_url", mode="before")
    @classmethod
    def _empty_payment_setting_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _production(self) -> Self:
        if self.app_env == "production":
            if self.payment_webhook_secret is None:
                raise ValueError("APP_ENV=production needs PAYMENT_WEBHOOK_SECRET")
            if self.payment_provider == "simulated":
                raise ValueError("APP_ENV=production refuses PAYMENT_PROVIDER=simulated")
        return self

    @property
    def webhook_secret(self) -> str:
        if self.payment_webhook_secret is None:
            return DEVELOPMENT_WEBHOOK_SECRET
        return self.payment_webhook_secret.get_secret_value()

    @property
    def webhook_url(self) -> str:
        return self.payment_webhook_url or f"http://127.0.0.1:{self.port}/api/v1/payments/webhook"
