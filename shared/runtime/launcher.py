"""The services as processes of this checkout: for `make run`, the end-to-end and fault tests
and the bench.

A service is `python -m <module>` on a port, ready once its /readyz answers 200. The four start
with the auth service alone and first, as the others fetch its JWKS when they start; they stop
together on SIGTERM, the gateway signalled first so that it stops taking purchases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import aiohttp

# The checkout this module belongs to: the services run from its sources.
ROOT = Path(__file__).resolve().parents[2]

# The four in start order: (module, log name, the variable that tells the others its URL).
SERVICES = (
    ("auth_service", "auth", "AUTH_URL"),
    ("inventory_service", "inventory", "INVENTORY_URL"),
    ("order_service", "order", "ORDER_URL"),
    ("gateway", "gateway", None),
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(eq=False)
class ServiceProcess:
    """`python -m <module>` on its own port; output appended to ``log``, else to the terminal."""

    module: str
    env: dict[str, str]  # on top of this process's environment
    log: Path | None = None
    port: int = field(default_factory=free_port)
    cwd: Path = ROOT
    # A session of its own: a Ctrl-C at the terminal reaches only the supervisor, which then
    # stops the services in order.
    own_session: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.log.stem if self.log is not None else self.module

    @property
    def log_path(self) -> Path:
        """The log file (a service started to log to the terminal has none)."""
        if self.log is None:
            raise ValueError(f"{self.module} logs to the terminal")
        return self.log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        command = [sys.executable, "-m", self.module]
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        if self.log is None:
            self.process = subprocess.Popen(  # noqa: S603 (this interpreter, our module)
                command, cwd=self.cwd, env=env, start_new_session=self.own_session
            )
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:  # appended: a restart keeps the earlier lines
            self.process = subprocess.Popen(  # noqa: S603 (this interpreter, our module)
                command,
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=self.own_session,
            )

    def replica(self, log_name: str) -> ServiceProcess:
        """Another process of the same service and settings, on its own port and log."""
        log = self.log.with_name(f"{log_name}.log") if self.log is not None else None
        return dataclasses.replace(
            self, env=dict(self.env), log=log, port=free_port(), process=None
        )

    def log_tail(self, lines: int = 40) -> str:
        if self.log is None:
            return "(the log went to the terminal)"
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_ready(self, within: float = 30.0) -> None:
        """Until /readyz answers 200; RuntimeError if the process exits, TimeoutError."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {within}s:\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when a machine dies."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait for a graceful exit (its status); SIGKILL if it does not come."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    async def restart(self) -> None:
        """Start again on the same port and wait until ready."""
        self.start()
        await self.wait_ready()


def four_services(
    env: Mapping[str, str],
    *,
    ports: Mapping[str, int] | None = None,
    log_dir: Path | None = None,
    cwd: Path = ROOT,
    own_session: bool = False,
) -> list[ServiceProcess]:
    """auth, inventory, order and gateway in start order, each told the others' URLs (unless
    ``env`` names them already); ports by module (default: free ones), logs in ``log_dir``."""
    services = [
        ServiceProcess(
            module,
            dict(env),
            log_dir / f"{log_name}.log" if log_dir is not None else None,
            port=(ports or {}).get(module) or free_port(),
            cwd=cwd,
            own_session=own_session,
        )
        for module, log_name, _ in SERVICES
    ]
    urls = {var: s.url for s, (_, _, var) in zip(services, SERVICES, strict=True) if var}
    for service in services:
        for var, url in urls.items():
            service.env.setdefault(var, url)
    return services


async def start_together(services: Sequence[ServiceProcess], *, within: float = 30.0) -> None:
    """Start them all, then wait until every one is ready."""
    for service in services:
        service.start()
    await asyncio.gather(*(s.wait_ready(within) for s in services))


async def start_in_order(services: Sequence[ServiceProcess], *, within: float = 30.0) -> None:
    """The first one (the auth service) alone until it is ready, then the rest together."""
    await start_together(services[:1], within=within)
    await start_together(services[1:], within=within)


class Exit(NamedTuple):
    code: int | None  # None: killed after the grace period
    seconds: float  # from the SIGTERM


def stop_all(services: Sequence[ServiceProcess], *, timeout: float = 20.0) -> dict[str, Exit]:
    """SIGTERM every running one at once, the last started first; SIGKILL whatever has not
    exited ``timeout`` seconds later. How each one ended, by name."""
    running = [s for s in reversed(services) if s.running]
    started = time.monotonic()
    for service in running:
        service.signal(signal.SIGTERM)
    exits: dict[str, Exit] = {}
    for service in running:
        assert service.process is not None
        code: int | None
        try:
            code = service.process.wait(max(0.0, started + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.kill()
            code = None
        exits[service.name] = Exit(code, round(time.monotonic() - started, 2))
    return exits
