from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from gateway.entrypoints.cors import parse_origins
from shared.contracts.settings import ServiceSettings
from shared.runtime.forwarding import ProxiesSetting, TrustedProxies


class GatewaySettings(ServiceSettings):
    port: int = Field(8080, ge=1, le=65535, description="HTTP port")
    # Purchases arriving within this window share one confirmed publish.
    publish_linger_ms: float = Field(
        1.0, ge=0, le=100, description="milliseconds a purchase waits for others to share a publish"
    )
    publish_max_batch: int = Field(500, ge=1, le=10_000, description="purchases per publish")
    publish_timeout: float = Field(5.0, gt=0, description="seconds to wait for a confirm (503)")
    upstream_timeout: float = Field(10.0, gt=0, description="seconds for the services behind")
    idempotency_ttl_seconds: int = Field(
        86_400, ge=60, description="how long an Idempotency-Key is remembered"
    )
    # Admission control (see gateway.domain.admit).
    admission_demand_factor: float = Field(
        20.0, gt=0, description="409 once waiting demand > factor x remaining + slack"
    )
    admission_demand_slack: int = Field(1_000, ge=0, description="see ADMISSION_DEMAND_FACTOR")
    admission_partition_max_waiting: int = Field(
        200_000, ge=1, description="503 overloaded once a partition has this many waiting"
    )
    sale_refresh_seconds: float = Field(
        1.0, gt=0, description="how often cached sales are re-read (a lost update is caught)"
    )
    ticket_board_size: int = Field(
        200_000, ge=1_000, description="tickets kept in memory for polls and streams"
    )
    sale_stream_interval: float = Field(
        0.2, ge=0.05, le=5, description="at most one sale event per stream per interval (s)"
    )
    # Proof of work (gateway/pow.py): every gateway of a deployment must sign challenges with
    # the same secret, or a challenge from one fails at another. Unset: the first gateway
    # creates one in Redis and the others read it at start.
    pow_secret: SecretStr | None = Field(
        None, min_length=16, description="signs proof-of-work challenges (unset: shared in Redis)"
    )
    pow_challenge_ttl_seconds: float = Field(
        120, gt=0, le=3_600, description="seconds a proof-of-work challenge stays valid"
    )
    cors_allowed_origins: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="origins whose pages may call the API, comma-separated (empty: none)",
    )
    # Empty: no proxy is trusted, and the client is whoever connected. Behind a load balancer
    # or reverse proxy, list its addresses, or every user shares the proxy's address (and
    # its login throttle).
    forwarded_allow_ips: ProxiesSetting = Field(
        TrustedProxies(),
        description="proxies (addresses/CIDRs, comma-separated, or *) whose"
        " X-Forwarded-For / Forwarded headers name the client",
    )

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return parse_origins(value) if isinstance(value, str) else value
