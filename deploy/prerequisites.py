"""What the test suite needs from the OS, checked before anything slow (`make prerequisites`).

Standard library only: it runs with the system python3, before the virtualenv exists.

    python3 deploy/prerequisites.py          # as root: apt-get install whatever is missing
    python3 deploy/prerequisites.py --check  # only check, never install

When something is missing and it cannot install (not root, or --check), it prints the one
command that installs it and exits 1, instead of letting a run fail minutes later.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    """Files (glob patterns) that must all exist, the Debian package that has them, and why."""

    package: str
    paths: tuple[str, ...]
    needed_by: str


def requirements(env: Mapping[str, str]) -> tuple[Requirement, ...]:
    """Everything the suite runs from the OS, at the paths the tests use."""
    postgres = "/usr/lib/postgresql/*/bin/"
    return (
        Requirement(
            "chromium",
            (env.get("CHROMIUM_PATH") or "/usr/bin/chromium",),
            "the browser tests (Playwright drives the OS Chromium)",
        ),
        Requirement("nginx", ("/usr/sbin/nginx",), "the load-balancer tests"),
        Requirement("prometheus", ("/usr/bin/promtool",), "the alert-rule tests (promtool)"),
        # The fault tests start private servers (tests/support/private_servers.py).
        Requirement("redis-server", ("/usr/bin/redis-server",), "the private Redis"),
        Requirement(
            "redis-tools",
            ("/usr/bin/redis-cli",),
            "the private Redis Cluster (redis-cli --cluster create)",
        ),
        Requirement(
            "rabbitmq-server", ("/usr/lib/rabbitmq/bin/rabbitmq-server",), "the private RabbitMQ"
        ),
        Requirement(
            "postgresql",
            tuple(postgres + name for name in ("initdb", "postgres", "pg_ctl")),
            "the private PostgreSQL",
        ),
    )


def _exists(pattern: str) -> bool:
    return bool(glob.glob(pattern))


def missing(
    needed: Sequence[Requirement], exists: Callable[[str], bool] = _exists
) -> list[Requirement]:
    """The requirements of which some file is absent."""
    return [r for r in needed if not all(exists(path) for path in r.paths)]


@dataclass(frozen=True)
class Decision:
    status: int
    install: tuple[str, ...] = ()  # packages to apt-get install now
    message: str = ""


def decide(lacking: Sequence[Requirement], *, root: bool, check_only: bool) -> Decision:
    """Install (as root), or stop with the command that would, or go on."""
    if not lacking:
        return Decision(0)
    packages = tuple(dict.fromkeys(r.package for r in lacking))
    if root and not check_only:
        return Decision(0, install=packages)
    command = ("" if root else "sudo ") + "apt-get install -y " + " ".join(packages)
    width = max(len(p) for p in packages)
    lines = [
        f"  {r.package:<{width}}  for {r.needed_by}: {', '.join(r.paths)} is missing"
        for r in lacking
    ]
    return Decision(
        1,
        message="The test suite needs system packages that are missing:\n"
        + "\n".join(lines)
        + f"\nInstall them, then run the tests again:\n  {command}",
    )


def apt_install(packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        print("+", " ".join(command), flush=True)
        try:
            if subprocess.run(command, env=env, check=False).returncode != 0:
                return  # what is still missing is reported below
        except OSError as exc:  # no apt-get: not Debian
            print(f"{command[0]}: {exc}", file=sys.stderr)
            return


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check (as root: install) what the tests need.")
    parser.add_argument("--check", action="store_true", help="only check, never install")
    args = parser.parse_args(argv)
    needed = requirements(os.environ)
    root = os.geteuid() == 0
    decision = decide(missing(needed), root=root, check_only=args.check)
    if decision.install:
        apt_install(decision.install)
        decision = decide(missing(needed), root=root, check_only=True)
    if decision.message:
        print(decision.message, file=sys.stderr)
    return decision.status


if __name__ == "__main__":
    sys.exit(main())
