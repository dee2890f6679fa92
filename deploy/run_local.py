"""`make run`: migrate, start the four services in the foreground, stop them on Ctrl-C.

Needs RabbitMQ, PostgreSQL and Redis at AMQP_URL, DATABASE_URL and REDIS_URL (defaults:
localhost). For local development it makes sure an admin account exists (ADMIN_USERNAME /
ADMIN_PASSWORD, or `admin` with a generated password kept in .data/admin-password) and
prints the credentials.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data"
SERVICES = [  # (package, default port); auth first: the others fetch its keys
    ("auth_service", 8081),
    ("inventory_service", 8082),
    ("order_service", 8083),
    ("gateway", 8080),
]
SERVERS = {
    "AMQP_URL": ("amqp://guest:guest@127.0.0.1:5672/", 5672, "RabbitMQ"),
    "DATABASE_URL": ("postgresql://postgres@127.0.0.1:5432/flashsale", 5432, "PostgreSQL"),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", 6379, "Redis"),
}


def check_servers(env: dict[str, str]) -> None:
    down = []
    for name, (default, port, label) in SERVERS.items():
        url = urlsplit(env.get(name, default))
        try:
            socket.create_connection((url.hostname or "127.0.0.1", url.port or port), 2).close()
        except OSError:
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


def port_of(package: str, default: int, env: dict[str, str]) -> int:
    return int(env.get(f"{package.upper()}_PORT", default))


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):  # noqa: S310 (local URL)
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready in {timeout:.0f}s")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):  # gateway first: stop taking purchases
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def parse_args(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="make run (python deploy/run_local.py)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment variables it reads itself:\n"
        "  AMQP_URL, DATABASE_URL, REDIS_URL  the servers (checked before anything starts)\n"
        "  ADMIN_USERNAME, ADMIN_PASSWORD     the local admin (default: admin, generated)\n"
        "  <SERVICE>_PORT                     e.g. GATEWAY_PORT=9080 (default 8080-8083)\n"
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

    urls = {pkg: f"http://127.0.0.1:{port_of(pkg, port, env)}" for pkg, port in SERVICES}
    env.setdefault("AUTH_URL", urls["auth_service"])
    env.setdefault("INVENTORY_URL", urls["inventory_service"])
    env.setdefault("ORDER_URL", urls["order_service"])

    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    processes: list[subprocess.Popen[bytes]] = []
    try:
        for package, port in SERVICES:
            service_env = {**env, "PORT": str(port_of(package, port, env))}
            # A session of its own: Ctrl-C reaches only this supervisor, which then
            # stops the services in order with SIGTERM.
            process = subprocess.Popen(
                [sys.executable, "-m", package], cwd=ROOT, env=service_env, start_new_session=True
            )
            processes.append(process)
            if package == "auth_service":
                wait_ready(urls[package], process)
        for (package, _), process in zip(SERVICES, processes, strict=True):
            wait_ready(urls[package], process)
    except (RuntimeError, KeyboardInterrupt) as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        stop(processes)
        return 1

    gateway = urls["gateway"].replace("127.0.0.1", "localhost")
    print(
        "\nFlash-sale engine is running (Ctrl-C stops it)\n"
        f"  web page:  {gateway}/\n"
        f"  API:       {gateway}/api/v1\n"
        f"  API docs:  {gateway}/api/docs\n"
        f"  admin:     {username} / {password}   (local development only)\n",
        flush=True,
    )
    while not stopping:
        for (package, _), process in zip(SERVICES, processes, strict=True):
            if process.poll() is not None:
                print(f"{package} exited with {process.returncode}; stopping", file=sys.stderr)
                stop(processes)
                return 1
        time.sleep(0.5)
    print("stopping…", flush=True)
    stop(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
