"""Where the test servers are: environment URLs first, testcontainers where Docker runs.

Where neither works the run fails with a message that says what to do; it never skips.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULTS = {
    "TEST_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    # A server URL: each test gets its own throwaway database on it.
    "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    # db 15 keeps tests away from a `make run` on db 0; keys are namespaced per test anyway.
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/15",
}


@dataclass(frozen=True)
class Servers:
    amqp_url: str
    postgres_url: str  # a maintenance database on the server
    redis_url: str

    def database_url(self, name: str) -> str:
        base = self.postgres_url.rsplit("/", 1)[0]
        return f"{base}/{name}"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


class ServersUnavailable(RuntimeError):
    pass


def discover(stack: ExitStack) -> Servers:
    """Servers from TEST_* URLs; the unreachable ones from testcontainers if Docker runs."""
    urls = {name: os.environ.get(name) or default for name, default in DEFAULTS.items()}
    ports = {"TEST_AMQP_URL": 5672, "TEST_DATABASE_URL": 5432, "TEST_REDIS_URL": 6379}
    missing = [name for name, url in urls.items() if not reachable(url, ports[name])]
    if missing and not docker_available():
        raise ServersUnavailable(
            "the integration tests need RabbitMQ, PostgreSQL and Redis; not reachable: "
            + ", ".join(f"{n}={urls[n]}" for n in missing)
            + ". Start them (see README, 'Run it'), point the TEST_* variables at "
            "running servers, or run a Docker engine so that testcontainers can start them."
        )
    if "TEST_AMQP_URL" in missing:
        from testcontainers.rabbitmq import RabbitMqContainer

        rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-alpine"))
        host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
        urls["TEST_AMQP_URL"] = f"amqp://guest:guest@{host}:{port}/"
    if "TEST_DATABASE_URL" in missing:
        from testcontainers.postgres import PostgresContainer

        pg = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
        urls["TEST_DATABASE_URL"] = pg.get_connection_url().rsplit("/", 1)[0] + "/postgres"
    if "TEST_REDIS_URL" in missing:
        from testcontainers.redis import RedisContainer

        rc = stack.enter_context(RedisContainer("redis:7-alpine"))
        urls["TEST_REDIS_URL"] = (
            f"redis://{rc.get_container_host_ip()}:{rc.get_exposed_port(6379)}/15"
        )
    return Servers(urls["TEST_AMQP_URL"], urls["TEST_DATABASE_URL"], urls["TEST_REDIS_URL"])
