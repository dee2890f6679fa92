"""Every entry point: `--help` touches nothing, a bad setting is one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import asyncpg
import pytest

from tests.support.processes import ROOT

ENTRY_POINTS = ["gateway", "inventory_service", "order_service", "auth_service", "shared.migrate"]
# Servers that cannot be reached (a blackhole address): an entry point that tried to connect
# would hang there, and `--help` must answer at once.
UNREACHABLE = {
    "AMQP_URL": "amqp://guest:guest@10.255.255.1:5672/",
    "REDIS_URL": "redis://10.255.255.1:6379/0",
    "AUTH_URL": "http://10.255.255.1:8081",
}
# What each one must list in its help (some of what it reads), and must not (what it ignores).
LISTS = {
    "gateway": (
        {"AMQP_URL", "REDIS_URL", "FORWARDED_ALLOW_IPS", "PUBLISH_TIMEOUT"},
        {"DATABASE_URL"},
    ),
    "inventory_service": ({"DATABASE_URL", "INTENT_QUEUE_MAX_LENGTH", "INTENT_PREFETCH"}, set()),
    "order_service": ({"DATABASE_URL", "INTENT_QUEUE_MAX_LENGTH", "DECISION_PREFETCH"}, set()),
    "auth_service": ({"DATABASE_URL", "LOGIN_MAX_WAIT_SECONDS", "BCRYPT_ROUNDS"}, {"AMQP_URL"}),
    "shared.migrate": ({"DATABASE_URL", "LOG_LEVEL"}, {"PORT", "REDIS_URL"}),
}


def run(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 20):
    clean = {k: v for k, v in os.environ.items() if k.isupper() and not k.endswith("_URL")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**clean, **UNREACHABLE, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize("module", ENTRY_POINTS)
async def test_help_lists_the_environment_and_touches_nothing(module, servers):
    # A database nobody created: `shared.migrate --help` must not create it.
    name = f"fs_help_{os.getpid()}"
    database_url = servers.database_url(name)
    result, seconds = run(module, "--help", env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {module}"), result.stdout
    assert "environment variables:" in result.stdout
    listed, unlisted = LISTS[module]
    for variable in listed:
        assert f"  {variable} " in result.stdout, (variable, result.stdout)
    for variable in unlisted:
        assert f"  {variable} " not in result.stdout, (variable, result.stdout)
    assert seconds < 10, seconds  # no waiting for the unreachable servers
    conn = await asyncpg.connect(servers.postgres_url)
    try:
        assert await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) is None
    finally:
        await conn.close()


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PORT", "abc", "valid integer"),
        ("DATABASE_URL", "postgresql//no-scheme", "must be a URL starting with postgresql://"),
        ("LOG_LEVEL", "chatty", "DEBUG"),
    ],
)
def test_a_bad_setting_is_one_line_and_status_2(module, variable, value, problem):
    result, _ = run(module, env={variable: value})
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid configuration:"), lines
    assert variable in lines[0] and problem in lines[0], lines
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("module", ["auth_service", "inventory_service", "order_service"])
def test_a_database_that_refuses_the_login_stops_the_service_with_the_hint(module, servers):
    # The shared server trusts every role it has; a role it does not have is refused.
    url = servers.database_url("flashsale").replace("postgres@", "no_such_role@", 1)
    assert "no_such_role@" in url, url
    result, _ = run(module, env={"DATABASE_URL": url, "REDIS_URL": servers.redis_url})
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr)
    assert result.stderr.startswith("error: PostgreSQL at "), result.stderr
    assert "DATABASE_URL" in result.stderr and "CREATE ROLE" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_make_runs_launcher_explains_itself_and_starts_nothing():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "run_local.py"), "--help"],
        cwd=ROOT,
        env={**os.environ, **UNREACHABLE},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AMQP_URL, DATABASE_URL, REDIS_URL" in result.stdout
    assert "python -m gateway --help" in result.stdout
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"APP_ENV": "production"}, "APP_ENV=production needs PAYMENT_WEBHOOK_SECRET"),
        (
            {"APP_ENV": "production", "PAYMENT_WEBHOOK_SECRET": "whsec_" + "x" * 32},
            "APP_ENV=production refuses PAYMENT_PROVIDER=simulated",
        ),
    ],
)
def test_production_refuses_the_development_payment_setup(env, problem):
    result, _ = run("order_service", env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert problem in result.stderr and "Traceback" not in result.stderr, result.stderr
