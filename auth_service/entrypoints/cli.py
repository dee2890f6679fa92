"""Operator commands: create-admin, and what every command shares (errors, the database)."""

from __future__ import annotations

import asyncio
import getpass
import math
import sys
from typing import TextIO

import asyncpg
from pydantic import SecretStr, ValidationError

from auth_service import handlers
from auth_service.adapters.bcrypt_passwords import BcryptHasher
from auth_service.adapters.postgres_users import PostgresUsers
from auth_service.domain import Credentials
from auth_service.settings import AuthSettings
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


async def connect(dsn: str) -> asyncpg.Pool:
    # Fail fast: an operator at a prompt wants an error, not a silent wait for the server.
    try:
        return await asyncpg.create_pool(dsn, min_size=1, max_size=2, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise CommandError(f"cannot connect to the database: {type(exc).__name__}") from None


def database_error(exc: asyncpg.PostgresError) -> CommandError:
    hint = " (is the database migrated? python -m shared.migrate)"
    missing = isinstance(exc, asyncpg.UndefinedTableError)
    return CommandError(f"database error: {exc}{hint if missing else ''}")


async def _create_admin(settings: AuthSettings, credentials: Credentials) -> str:
    pool = await connect(settings.database_url)
    # An operator's command waits for its one hash, however long the queue.
    hasher = BcryptHasher(rounds=settings.bcrypt_rounds, workers=1, max_wait=math.inf)
    try:
        await hasher.start()
        outcome = await handlers.ensure_admin(credentials, users=PostgresUsers(pool), hasher=hasher)
    except asyncpg.PostgresError as exc:
        raise database_error(exc) from None
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


def fail(error: CommandError) -> int:
    """Print the error for the operator; the exit status."""
    print(f"error: {error}", file=sys.stderr)
    return error.status
