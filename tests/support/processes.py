"""The four services as real processes, for end-to-end and fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service (`python -m <module>`) with its own port and log file."""

    module: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.module} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.module} not ready after {timeout}s:\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when a machine dies."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait for a graceful exit; SIGKILL if it does not come."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    async def restart(self) -> None:
        self.start()
        await self.wait_ready()


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
        auth = ServiceProcess("auth_service", dict(env), artifacts / "auth.log")
        inventory = ServiceProcess("inventory_service", dict(env), artifacts / "inventory.log")
        order = ServiceProcess("order_service", dict(env), artifacts / "order.log")
        gateway = ServiceProcess("gateway", dict(env), artifacts / "gateway.log")
        urls = {
            "AUTH_URL": auth.url,
            "INVENTORY_URL": inventory.url,
            "ORDER_URL": order.url,
        }
        for service in (auth, inventory, order, gateway):
            service.env.update(urls)
        return cls(auth, inventory, order, gateway)

    @property
    def services(self) -> list[ServiceProcess]:
        return [self.auth, self.inventory, self.order, self.gateway, *self.extra]

    def replica(self, of: ServiceProcess, name: str) -> ServiceProcess:
        """Another process of the same service (same env), e.g. a standby consumer."""
        twin = ServiceProcess(of.module, dict(of.env), of.log_path.with_name(f"{name}.log"))
        self.extra.append(twin)
        return twin

    async def start(self) -> None:
        # auth first: the others fetch its JWKS.
        self.auth.start()
        await self.auth.wait_ready()
        for service in (self.inventory, self.order, self.gateway):
            service.start()
        await asyncio.gather(*(s.wait_ready() for s in (self.inventory, self.order, self.gateway)))

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
