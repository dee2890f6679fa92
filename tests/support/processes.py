"""The four services as real processes, for end-to-end and fault tests (shared.runtime.launcher)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.runtime.launcher import (
    ROOT,
    ServiceProcess,
    four_services,
    free_port,
    start_in_order,
    stop_all,
)

__all__ = ["ARTIFACTS", "ROOT", "ServiceProcess", "Stack", "free_port", "service_env"]

ARTIFACTS = ROOT / "tests" / "artifacts"


def service_env(
    *,
    amqp_url: str,
    database_url: str,
    redis_url: str,
    namespace: str,
    partitions: int,
    key_file: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    return {
        "AMQP_URL": amqp_url,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "NAMESPACE": namespace,
        "INTENT_PARTITIONS": str(partitions),
        "HOST": "127.0.0.1",
        "BCRYPT_ROUNDS": "4",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "LOG_LEVEL": "INFO",
        **(extra or {}),
    }


@dataclass
class Stack:
    """auth, inventory, order and gateway processes wired to each other."""

    auth: ServiceProcess
    inventory: ServiceProcess
    order: ServiceProcess
    gateway: ServiceProcess
    extra: list[ServiceProcess] = field(default_factory=list)

    @classmethod
    def build(cls, env: dict[str, str], artifacts: Path) -> Stack:
        auth, inventory, order, gateway = four_services(env, log_dir=artifacts)
        return cls(auth, inventory, order, gateway)

    @property
    def services(self) -> list[ServiceProcess]:
        return [self.auth, self.inventory, self.order, self.gateway, *self.extra]

    def replica(self, of: ServiceProcess, name: str) -> ServiceProcess:
        """Another process of the same service (same env), e.g. a standby consumer."""
        twin = of.replica(name)
        self.extra.append(twin)
        return twin

    async def start(self) -> None:
        await start_in_order([self.auth, self.inventory, self.order, self.gateway])

    def stop(self) -> None:
        stop_all(self.services)
