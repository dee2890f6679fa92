"""`python -m auth_service issue-tokens`: load-test users, each with a token (JSON lines)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import TextIO, get_args

import asyncpg

from auth_service.adapters.key_files import load_key_ring
from auth_service.domain import User
from auth_service.entrypoints.cli import CommandError, connect, database_error
from auth_service.loadtest.accounts import (
    NotABenchAccount,
    PostgresLoadTestAccounts,
    bench_usernames,
)
from auth_service.loadtest.signing import sign_tokens
from auth_service.settings import AuthSettings
from auth_service.tokens import TokenIssuer
from shared.contracts.tokens import Role

NAME = "issue-tokens"


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the command among ``commands`` (argparse sub-parsers)."""
    parser = commands.add_parser(
        NAME, help="create load-test users and print a token for each (JSON lines)"
    )
    parser.add_argument("--count", type=positive, required=True)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument(
        "--ttl", type=positive, default=None, help="seconds (default JWT_TTL_SECONDS)"
    )
    parser.add_argument("--role", choices=get_args(Role), default="user")
    parser.add_argument("--workers", type=positive, default=None, help="signing processes (CPUs)")


def run(settings: AuthSettings, args: argparse.Namespace) -> int:
    """The command, with its arguments parsed; its exit status."""
    started = time.perf_counter()
    count = issue_tokens(
        settings,
        count=args.count,
        prefix=args.prefix,
        ttl_seconds=args.ttl,
        role=args.role,
        workers=args.workers,
        out=sys.stdout,
    )
    print(f"issued {count} tokens in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


async def _accounts(settings: AuthSettings, prefix: str, count: int, role: Role) -> list[User]:
    pool = await connect(settings.database_url)
    try:
        return await PostgresLoadTestAccounts(pool).ensure(bench_usernames(prefix, count), role)
    except asyncpg.PostgresError as exc:
        raise database_error(exc) from None
    except NotABenchAccount as exc:
        raise CommandError(str(exc)) from None
    finally:
        await pool.close()


def issue_tokens(
    settings: AuthSettings,
    *,
    count: int,
    prefix: str,
    ttl_seconds: int | None,
    role: Role,
    workers: int | None,
    out: TextIO,
) -> int:
    """Write one JSON line {user_id, username, access_token} per load-test user; how many."""
    try:
        bench_usernames(prefix, count)
    except ValueError as exc:
        raise CommandError(str(exc), status=2) from None
    # The key first: a key problem should not leave half a job done in the database.
    ring = load_key_ring(settings)
    issuer = TokenIssuer(
        ring.signing,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=ttl_seconds or settings.jwt_ttl_seconds,
    )
    users = asyncio.run(_accounts(settings, prefix, count, role))
    processes = workers or os.cpu_count() or 1
    for user, token in sign_tokens(issuer, users, now=int(time.time()), workers=processes):
        line = {"user_id": str(user.user_id), "username": user.username, "access_token": token}
        out.write(json.dumps(line) + "\n")
    out.flush()
    return len(users)
