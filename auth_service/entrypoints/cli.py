"""Operator commands: create-admin and issue-tokens (for load tests)."""

from __future__ import annotations

import asyncio
import getpass
import json
import math
import os
import sys
import time
from typing import TextIO

import asyncpg
from pydantic import SecretStr, ValidationError

from auth_service import handlers
from auth_service.adapters.bcrypt_passwords import BcryptHasher
from auth_service.adapters.key_files import load_key_ring
from auth_service.adapters.postgres_users import PostgresUsers
from auth_service.bulk_tokens import sign_tokens
from auth_service.domain import Credentials, User
from auth_service.settings import AuthSettings
from auth_service.tokens import TokenIssuer
from shared.contracts.tokens import Role
from shared.runtime.entrypoint import describe


class CommandError(Exception):
    """A failure the operator can fix; the message is printed, with the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def read_password(stream: TextIO) -> str:
    """Prompt twice on a terminal; otherwise read one line (the password) from ``stream``."""
    if stream.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise CommandError("the passwords do not match", status=2)
        return first
    return stream.readline().removesuffix("\n").removesuffix("\r")


async def _connect(dsn: str) -> asyncpg.Pool:
    # Fail fast: an operator at a prompt wants an error, not a silent wait for the server.
    try:
        return await asyncpg.create_pool(dsn, min_size=1, max_size=2, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise CommandError(f"cannot connect to the database: {type(exc).__name__}") from None


def _database_error(exc: asyncpg.PostgresError) -> CommandError:
    hint = " (is the database migrated? python -m shared.migrate)"
    missing = isinstance(exc, asyncpg.UndefinedTableError)
    return CommandError(f"database error: {exc}{hint if missing else ''}")


async def _create_admin(settings: AuthSettings, credentials: Credentials) -> str:
    pool = await _connect(settings.database_url)
    # An operator's command waits for its one hash, however long the queue.
    hasher = BcryptHasher(rounds=settings.bcrypt_rounds, workers=1, max_wait=math.inf)
    try:
        await hasher.start()
        outcome = await handlers.ensure_admin(credentials, users=PostgresUsers(pool), hasher=hasher)
    except asyncpg.PostgresError as exc:
        raise _database_error(exc) from None
    finally:
        await hasher.close()
        await pool.close()
    return f"admin {outcome.user.username} {outcome.action} (user_id {outcome.user.user_id})"


def create_admin(settings: AuthSettings, username: str, stdin: TextIO) -> str:
    """Create or promote the admin account ``username``; the line to print."""
    password = read_password(stdin)
    try:
        credentials = Credentials(username=username, password=SecretStr(password))
    except ValidationError as exc:
        raise CommandError(describe(exc), status=2) from None
    return asyncio.run(_create_admin(settings, credentials))


async def _bench_users(settings: AuthSettings, prefix: str, count: int, role: Role) -> list[User]:
    pool = await _connect(settings.database_url)
    try:
        return await handlers.prepare_bench_users(prefix, count, role, users=PostgresUsers(pool))
    except asyncpg.PostgresError as exc:
        raise _database_error(exc) from None
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
        handlers.bench_usernames(prefix, count)
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
    users = asyncio.run(_bench_users(settings, prefix, count, role))
    processes = workers or os.cpu_count() or 1
    for user, token in sign_tokens(issuer, users, now=int(time.time()), workers=processes):
        line = {"user_id": str(user.user_id), "username": user.username, "access_token": token}
        out.write(json.dumps(line) + "\n")
    out.flush()
    return len(users)


def fail(error: CommandError) -> int:
    """Print the error for the operator; the exit status."""
    print(f"error: {error}", file=sys.stderr)
    return error.status
