"""The user repository on asyncpg (parameterised SQL only); usernames match case-insensitively."""

from __future__ import annotations

from typing import cast
from uuid import uuid4

import asyncpg

from auth_service.domain import StoredUser, User, UsernameTaken
from shared.contracts.tokens import Role

# The unique index on lower(username) (shared/migrations/0001_initial.sql).
_USERNAME_INDEX = "users_username_key"


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
            "SELECT user_id, username, role, password_hash FROM users"
            " WHERE lower(username) = lower($1)",
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
