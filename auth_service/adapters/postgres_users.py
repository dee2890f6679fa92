"""The user repository on asyncpg (parameterised SQL only); usernames match case-insensitively."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID, uuid4

import asyncpg

from auth_service.domain import (
    UNUSABLE_PASSWORD_HASH,
    NotABenchAccount,
    StoredUser,
    User,
    UsernameTaken,
)
from shared.contracts.tokens import Role

# The unique index on lower(username) (shared/migrations/0001_initial.sql).
_USERNAME_INDEX = "users_username_key"
_COLUMNS = "user_id, username, role, password_hash"


def _stored(row: asyncpg.Record) -> StoredUser:
    return StoredUser(
        user_id=row["user_id"],
        username=row["username"],
        role=cast(Role, row["role"]),
        password_hash=row["password_hash"],
    )


class PostgresUsers:
    """Users in the `users` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, user: User, password_hash: str) -> None:
        """Insert the user; UsernameTaken if the name exists in any letter case."""
        try:
            await self._pool.execute(
                "INSERT INTO users (user_id, username, password_hash, role)"
                " VALUES ($1, $2, $3, $4)",
                user.user_id,
                user.username,
                password_hash,
                user.role,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _USERNAME_INDEX:
                raise UsernameTaken() from None
            raise

    async def find(self, username: str) -> StoredUser | None:
        """The user with this name in any letter case, or None."""
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE lower(username) = lower($1)",  # noqa: S608
            username,
        )
        return None if row is None else _stored(row)

    async def save_admin(self, username: str, password_hash: str) -> tuple[User, bool]:
        """Create the admin, or make the existing account admin with this hash; (user, created)."""
        new_id = uuid4()
        row = await self._pool.fetchrow(
            "INSERT INTO users (user_id, username, password_hash, role)"
            " VALUES ($1, $2, $3, 'admin')"
            " ON CONFLICT ((lower(username))) DO UPDATE"
            " SET role = 'admin', password_hash = EXCLUDED.password_hash"
            " RETURNING user_id, username, role",
            new_id,
            username,
            password_hash,
        )
        assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        user = User(row["user_id"], row["username"], cast(Role, row["role"]))
        return user, user.user_id == new_id

    async def ensure_bench_users(self, usernames: Sequence[str], role: Role) -> list[User]:
        """Create the missing load-test accounts (unusable password) in one statement; all of them.

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
                f"SELECT {_COLUMNS} FROM users WHERE lower(username) = ANY($1::text[])",  # noqa: S608
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
