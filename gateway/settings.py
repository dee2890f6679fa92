from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from gateway.cors import parse_origins
from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    port: int = 8080
    # Purchases arriving within this window share one confirmed publish.
    publish_linger_ms: float = Field(default=1.0, ge=0, le=100)
    publish_max_batch: int = Field(default=500, ge=1, le=10_000)
    publish_timeout: float = Field(default=5.0, gt=0)
    upstream_timeout: float = Field(default=10.0, gt=0)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    # Admission control (see gateway.domain.admit).
    admission_demand_factor: float = Field(default=20.0, gt=0)
    admission_demand_slack: int = Field(default=1_000, ge=0)
    admission_partition_max_waiting: int = Field(default=200_000, ge=1)
    # How often every cached sale is re-read, in case a published update was lost.
    sale_refresh_seconds: float = Field(default=1.0, gt=0)
    # Tickets kept in memory for polls and streams (least recently used go first).
    ticket_board_size: int = Field(default=200_000, ge=1_000)
    # Sale streams send at most one update per sale per interval (and always the last one).
    sale_stream_interval: float = Field(default=0.2, ge=0.05, le=5)
    # Origins whose pages may call the API from a browser, comma-separated, exactly as browsers
    # send them (https://shop.example, http://localhost:3000). Empty: CORS stays closed.
    cors_allowed_origins: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return parse_origins(value) if isinstance(value, str) else value
