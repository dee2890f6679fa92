"""Settings base: the environment names every service reads (see README, Configuration)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs to find its dependencies; subclasses add their own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/flashsale"
    redis_url: str = "redis://127.0.0.1:6379/0"
    auth_url: str = "http://127.0.0.1:8081"
    inventory_url: str = "http://127.0.0.1:8082"
    order_url: str = "http://127.0.0.1:8083"
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    # Prefixes every Redis key and channel and every AMQP exchange and queue, so that
    # several deployments (or test runs) can share one Redis and one broker.
    namespace: str = Field(default="flashsale", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    intent_partitions: int = Field(default=4, ge=1, le=64)
    jwt_issuer: str = "flashsale-auth"
    jwt_audience: str = "flashsale"
    shutdown_timeout: float = Field(default=10.0, gt=0)
    # Measured on the services: no difference between the two (docs/BENCHMARKS.md); the
    # setting stays so that the comparison can be repeated.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
