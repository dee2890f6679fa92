"""`make run`: migrate, start the four services in the foreground, stop them on Ctrl-C.

Needs RabbitMQ, PostgreSQL and Redis at AMQP_URL, DATABASE_URL and REDIS_URL (defaults:
localhost). For local development it makes sure an admin account exists (ADMIN_USERNAME /
ADMIN_PASSWORD, or `admin` with a generated password kept in .data/admin-password) and
prints the credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

from shared.runtime.launcher import ROOT, ServiceProcess, four_services, start_in_order, stop_all

DATA = ROOT / ".data"
PORTS = {"auth_service": 8081, "inventory_service": 8082, "order_service": 8083, "gateway": 8080}
SERVERS = {
    "AMQP_URL": ("amqp://guest:guest@127.0.0.1:5672/", 5672, "RabbitMQ"),
    "DATABASE_URL": ("postgresql://postgres@127.0.0.1:5432/flashsale", 5432, "PostgreSQL"),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", 6379, "Redis"),
}


def _reachable(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 2).close()
    except OSError:
        return False
    return True


def check_servers(env: dict[str, str]) -> None:
    down = []
    for name, (default, port, label) in SERVERS.items():
        # AMQP_URL may list a cluster's nodes: the services need one of them.
        if not any(_reachable(url, port) for url in env.get(name, default).split(",")):
            down.append(f"  {label} at {env.get(name, default)} ({name})")
    if down:
        sys.exit(
            "make run needs these servers, which are not reachable:\n"
            + "\n".join(down)
            + "\nStart them (see README) or point the variables at running servers."
        )


def admin_credentials(env: dict[str, str]) -> tuple[str, str]:
    username = env.setdefault("ADMIN_USERNAME", "admin")
    if "ADMIN_PASSWORD" not in env:
        stored = DATA / "admin-password"
        if not stored.exists():
            DATA.mkdir(exist_ok=True)
            stored.write_text(secrets.token_urlsafe(12))
            stored.chmod(0o600)
        env["ADMIN_PASSWORD"] = stored.read_text().strip()
    return username, env["ADMIN_PASSWORD"]


def parse_args(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="make run (python deploy/run_local.py)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment variables it reads itself:\n"
        "  AMQP_URL, DATABASE_URL, REDIS_URL  the servers (checked before anything starts)\n"
        "  ADMIN_USERNAME, ADMIN_PASSWORD     the local admin (default: admin, generated)\n"
        "  <SERVICE>_PORT                     e.g. GATEWAY_PORT=9080 (default 8080-8083)\n"
        "  GATEWAYS                           gateway processes sharing its port (default 1;\n"
        "                                     SO_REUSEPORT, for machines with more cores)\n"
        "Every variable is passed on to the services: `python -m gateway --help` (and\n"
        "auth_service, inventory_service, order_service) lists what each one reads.",
    )
    parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    env = dict(os.environ)
    check_servers(env)
    username, password = admin_credentials(env)
    migration = subprocess.run([sys.executable, "-m", "shared.migrate"], cwd=ROOT, env=env)
    if migration.returncode != 0:
        # The migration said why (2: a configuration to fix, such as DATABASE_URL's login).
        return migration.returncode
    ports = {module: int(env.get(f"{module.upper()}_PORT", port)) for module, port in PORTS.items()}
    services = with_gateways(four_services(env, ports=ports, own_session=True), env)
    return asyncio.run(supervise(services, username, password))


def with_gateways(services: list[ServiceProcess], env: dict[str, str]) -> list[ServiceProcess]:
    """GATEWAYS gateway processes on the gateway's one port (the kernel spreads the
    connections: SO_REUSEPORT), the first of them the one `four_services` made."""
    count = int(env.get("GATEWAYS", "1") or "1")
    if count < 1:
        sys.exit("GATEWAYS must be 1 or more")
    if count == 1:
        return services
    gateway = services[-1]
    gateway.env["REUSE_PORT"] = "true"
    more = [
        dataclasses.replace(gateway, env=dict(gateway.env), process=None) for _ in range(count - 1)
    ]
    return [*services, *more]


async def supervise(services: list[ServiceProcess], username: str, password: str) -> int:
    """Start the services, watch them until Ctrl-C (or SIGTERM) or one exits; stop them all."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.ensure_future(start_in_order(services, within=60))
        if not await finished_first(starting, stop):
            print("start-up interrupted", file=sys.stderr)
            return 1
        starting.result()
        gateway = services[-1].url.replace("127.0.0.1", "localhost")
        print(
            "\nFlash-sale engine is running (Ctrl-C stops it)\n"
            f"  web page:  {gateway}/\n"
            f"  API:       {gateway}/api/v1\n"
            f"  API docs:  {gateway}/api/docs\n"
            f"  admin:     {username} / {password}   (local development only)\n",
            flush=True,
        )
        watching = asyncio.ensure_future(first_exit(services))
        if await finished_first(watching, stop):
            print(f"{watching.result()}; stopping", file=sys.stderr)
            return 1
        print("stopping…", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(services)


async def finished_first(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Whether ``work`` finished before ``stop`` was set; if not, it is cancelled."""
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if work.done():
        return True
    work.cancel()
    return False


async def first_exit(services: list[ServiceProcess]) -> str:
    """Waits until a service's process exits; which one, and how."""
    while True:
        for service in services:
            if service.process is not None and service.process.poll() is not None:
                return f"{service.module} exited with {service.process.returncode}"
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
