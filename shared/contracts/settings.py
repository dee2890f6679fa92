"""Settings base: the environment names every service reads (see README, Configuration).

Every field has a description: `python -m <service> --help` lists them with their defaults.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _url_checker(*schemes: str, needs_path: bool = False) -> AfterValidator:
    """A validator: the value is a URL with one of ``schemes``, a host and a valid port."""

    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            expected = " or ".join(f"{scheme}://" for scheme in schemes)
            raise ValueError(f"must be a URL starting with {expected}")
        if not parts.hostname and parts.scheme != "unix":
            raise ValueError("the URL has no host")
        try:
            parts.port  # noqa: B018 (raises for a port that is not a number in range)
        except ValueError:
            raise ValueError("the URL's port is not a number from 0 to 65535") from None
        if needs_path and not parts.path.strip("/"):
            raise ValueError("the URL must name a database, e.g. .../flashsale")
        return value

    return AfterValidator(check)


def _each_checked(checker: AfterValidator) -> AfterValidator:
    """A validator of a comma-separated list whose every entry passes ``checker``."""

    def check(value: str) -> str:
        entries = [entry.strip() for entry in value.split(",")]
        for number, entry in enumerate(entries, 1):
            try:
                checker.func(entry)  # type: ignore[call-arg]
            except ValueError as exc:
                raise ValueError(f"node {number} of {len(entries)}: {exc}") from None
        return ",".join(entries)

    return AfterValidator(check)


# One URL, or one per node of a RabbitMQ cluster: a client is connected to one node at a
# time and moves on to the next when it loses it.
AmqpUrls = Annotated[str, _each_checked(_url_checker("amqp", "amqps"))]
PostgresUrl = Annotated[str, _url_checker("postgresql", "postgres", needs_path=True)]
RedisUrl = Annotated[str, _url_checker("redis", "rediss", "unix")]
HttpUrl = Annotated[str, _url_checker("http", "https")]


class ServiceSettings(BaseSettings):
    """What every service needs to find its dependencies; subclasses add their own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    amqp_url: AmqpUrls = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ; several nodes of a cluster as comma-separated URLs",
    )
    database_url: PostgresUrl = Field(
        "postgresql://postgres@127.0.0.1:5432/flashsale", description="PostgreSQL database"
    )
    redis_url: RedisUrl = Field("redis://127.0.0.1:6379/0", description="Redis")
    # Sentinel instead of a fixed host: the primary is asked of the Sentinels, and followed
    # when they fail over to a replica. REDIS_URL still gives the database and the password.
    redis_sentinels: str | None = Field(
        None,
        pattern=r"^[^,:\s]+:\d{1,5}(,[^,:\s]+:\d{1,5})*$",
        description="Sentinels as host:port,host:port (instead of REDIS_URL's host)",
    )
    redis_sentinel_master: str = Field(
        "flashsale", min_length=1, description="the primary's name in Sentinel"
    )
    # A Redis Cluster: REDIS_URL names any node, the client learns the others and which node
    # holds which slot (keys are hash-tagged by sale: shared/contracts/redis_layout.py).
    redis_cluster: bool = Field(
        False,
        description="REDIS_URL is a node of a Redis Cluster: the client follows the cluster's"
        " slots to every node",
    )
    auth_url: HttpUrl = Field("http://127.0.0.1:8081", description="the auth service (JWKS)")
    inventory_url: HttpUrl = Field("http://127.0.0.1:8082", description="the inventory service")
    order_url: HttpUrl = Field("http://127.0.0.1:8083", description="the order service")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(8080, ge=1, le=65535, description="HTTP port")
    reuse_port: bool = Field(
        False,
        description="several processes of this service listen on PORT together (SO_REUSEPORT):"
        " the kernel spreads new connections over them",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="JSON logs on stdout from this level"
    )
    access_log: bool = Field(True, description="one JSON line per HTTP request, at INFO")
    # Prefixes every Redis key and channel and every AMQP exchange and queue, so that
    # several deployments (or test runs) can share one Redis and one broker.
    namespace: str = Field(
        "flashsale",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="prefix of every Redis key and AMQP name",
    )
    # Topology: every process that declares the queues must use the same values, or the
    # broker refuses the second declaration (406); hence here, not in one service.
    intent_partitions: int = Field(4, ge=1, le=64, description="number of intent queues")
    intent_queue_max_length: int = Field(
        100_000, ge=1, description="bound of each intent queue, in messages (batches)"
    )
    # Quorum queues keep a copy on this many nodes (fewer while the cluster is smaller when a
    # queue is declared). 0 leaves the argument out: queues declared by a version before it
    # existed keep working, as the broker refuses a declaration that differs (406).
    amqp_quorum_group_size: int = Field(
        3, ge=0, le=9, description="nodes that hold each queue (its initial quorum group)"
    )
    jwt_issuer: str = Field("flashsale-auth", description="required `iss` of tokens")
    jwt_audience: str = Field("flashsale", description="required `aud` of tokens")
    shutdown_timeout: float = Field(10.0, gt=0, description="seconds SIGTERM waits for work")
    # Measured on the services: no difference between the two (docs/BENCHMARKS.md); the
    # setting stays so that the comparison can be repeated.
    event_loop: Literal["uvloop", "asyncio"] = Field("uvloop", description="event loop")
    git_commit: str | None = Field(
        None, description="commit shown by /version (default: read from .git when present)"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("git_commit", "redis_sentinels", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Subclasses name their own such validators differently: one of the same name would
        # replace this one (pydantic), and `REDIS_SENTINELS=` would fail its pattern.
        return None if value == "" else value

    @property
    def amqp_nodes(self) -> list[str]:
        """AMQP_URL as one URL per broker node."""
        return self.amqp_url.split(",")

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs; empty without Sentinel."""
        if not self.redis_sentinels:
            return []
        pairs = (entry.rsplit(":", 1) for entry in self.redis_sentinels.split(","))
        return [(host, int(port)) for host, port in pairs]

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> ServiceSettings:
        if self.redis_cluster and self.redis_sentinels:
            raise ValueError("REDIS_CLUSTER and REDIS_SENTINELS exclude each other")
        return self
