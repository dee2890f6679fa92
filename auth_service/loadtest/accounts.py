"""Load-test accounts: their names, and a store that creates them without ever taking over a
real account."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from auth_service.domain import User, username_problem
from shared.contracts.tokens import Role

# Stored for load-test accounts: not a bcrypt hash, so no password ever matches it.
UNUSABLE_PASSWORD_HASH = "!"  # noqa: S105 (a marker, not a secret)


class NotABenchAccount(Exception):
    """A load-test name belongs to an account someone registered for real."""


def bench_usernames(prefix: str, count: int) -> list[str]:
    """`<prefix>-1` ... `<prefix>-<count>`; ValueError if those names break the account rules."""
    if count < 1:
        raise ValueError("count must be at least 1")
    for probe in (f"{prefix}-1", f"{prefix}-{count}"):
        problem = username_problem(probe)
        if problem:
            raise ValueError(f"prefix {prefix!r} gives usernames like {probe!r}: {problem}")
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


class PostgresLoadTestAccounts:
    """Load-test accounts in the service's `users` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ensure(self, usernames: Sequence[str], role: Role) -> list[User]:
        """Create the missing accounts (unusable password) in one statement; all of them.

        Refuses (NotABenchAccount, nothing written) if a name belongs to a real account.
        """
        lowered = [name.lower() for name in usernames]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO users (user_id, username, password_hash, role)"
                " SELECT gen_random_uuid(), name, $2, $3 FROM unnest($1::text[]) AS name"
                " ON CONFLICT ((lower(username))) DO NOTHING",
                list(usernames),
                UNUSABLE_PASSWORD_HASH,
                role,
            )
            rows = await conn.fetch(
                "SELECT user_id, username, role, password_hash FROM users"
                " WHERE lower(username) = ANY($1::text[])",
                lowered,
            )
            real = [r["username"] for r in rows if r["password_hash"] != UNUSABLE_PASSWORD_HASH]
            if real:
                raise NotABenchAccount(
                    f"{len(real)} of these usernames belong to real accounts, e.g. {real[0]!r};"
                    " choose another prefix"
                )
            if any(r["role"] != role for r in rows):
                await conn.execute(
                    "UPDATE users SET role = $2"
                    " WHERE lower(username) = ANY($1::text[]) AND role <> $2",
                    lowered,
                    role,
                )
        found: dict[str, tuple[UUID, str]] = {
            r["username"].lower(): (r["user_id"], r["username"]) for r in rows
        }
        return [User(*found[low], role) for low in lowered]
