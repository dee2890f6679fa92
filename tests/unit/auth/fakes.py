"""In-memory fakes of the ports, recording what the use cases asked for."""

from __future__ import annotations

from dataclasses import replace

from auth_service.domain import (
    UNUSABLE_PASSWORD_HASH,
    Attempt,
    StoredUser,
    TooManyAttempts,
    User,
    UsernameTaken,
)


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, StoredUser] = {}
        self.finds = 0

    async def add(self, user: User, password_hash: str) -> None:
        if user.username.lower() in self.rows:
            raise UsernameTaken()
        self.rows[user.username.lower()] = StoredUser(
            user.user_id, user.username, user.role, password_hash
        )

    async def find(self, username: str) -> StoredUser | None:
        self.finds += 1
        return self.rows.get(username.lower())

    async def save_admin(self, username: str, password_hash: str) -> tuple[User, bool]:
        from uuid import uuid4

        existing = self.rows.get(username.lower())
        if existing is None:
            row = StoredUser(uuid4(), username, "admin", password_hash)
        else:
            row = replace(existing, role="admin", password_hash=password_hash)
        self.rows[username.lower()] = row
        return User(row.user_id, row.username, row.role), existing is None

    async def ensure_bench_users(self, usernames, role):
        from uuid import uuid4

        for name in usernames:
            self.rows.setdefault(
                name.lower(), StoredUser(uuid4(), name, role, UNUSABLE_PASSWORD_HASH)
            )
        return [self.rows[n.lower()] for n in usernames]


class FakeHasher:
    """'Hashes' by prefixing; records every call so tests can see when bcrypt would run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def hash(self, password: str) -> str:
        self.calls.append(("hash", None))
        return f"hashed:{password}"

    async def verify(self, password: str, password_hash: str | None) -> bool:
        self.calls.append(("verify", password_hash))
        return password_hash == f"hashed:{password}"


class FakeThrottle:
    def __init__(self, limit: int = 1_000) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}
        self.events: list[str] = []

    def _keys(self, attempt: Attempt) -> list[str]:
        keys = [f"client:{attempt.client}"]
        if attempt.username is not None:
            keys.append(f"user:{attempt.username.lower()}")
        return keys

    async def begin(self, attempt: Attempt) -> None:
        self.events.append("begin")
        if any(self.counts.get(k, 0) >= self.limit for k in self._keys(attempt)):
            raise TooManyAttempts(7)
        for key in self._keys(attempt):
            self.counts[key] = self.counts.get(key, 0) + 1

    async def succeeded(self, attempt: Attempt) -> None:
        self.events.append("succeeded")
        self.counts.pop(f"user:{(attempt.username or '').lower()}", None)
        self.counts[f"client:{attempt.client}"] -= 1

    async def abandoned(self, attempt: Attempt) -> None:
        self.events.append("abandoned")
        for key in self._keys(attempt):
            self.counts[key] -= 1
