"""In-memory fakes of the ports, recording what the use cases asked for."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from auth_service.domain import (
    Attempt,
    StoredUser,
    TooManyAttempts,
    User,
    UsernameTaken,
    Verdict,
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
    """The throttle's contract in memory, without windows (time): failures count per client,
    per account from a client and per account; checks in flight count against the account's
    limits. tests/integration/auth/test_throttle_contract.py holds it and the Redis one to the
    same checks."""

    def __init__(self, *, per_client: int = 20, per_user: int = 5, per_account: int = 50) -> None:
        self.limits = {"client": per_client, "user": per_user, "account": per_account}
        self.failures: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.events: list[str] = []

    @staticmethod
    def _keys(attempt: Attempt) -> dict[str, str]:
        keys = {"client": f"client:{attempt.client}"}
        if attempt.username is not None:
            name = attempt.username.lower()
            keys["user"] = f"user:{name}:{attempt.client}"
            keys["account"] = f"account:{name}"
        return keys

    async def begin(self, attempt: Attempt) -> None:
        self.events.append("begin")
        keys = self._keys(attempt)
        for limit, key in keys.items():
            if self.failures[key] >= self.limits[limit]:
                raise TooManyAttempts(7, limit=limit)
            if limit != "client" and self.failures[key] + self.in_flight[key] >= self.limits[limit]:
                raise TooManyAttempts(1, limit="in_flight")
        for limit, key in keys.items():
            if limit != "client":
                self.in_flight[key] += 1

    async def finish(self, attempt: Attempt, verdict: Verdict) -> None:
        self.events.append(verdict)
        keys = self._keys(attempt)
        for limit, key in keys.items():
            if limit != "client" and self.in_flight[key] > 0:
                self.in_flight[key] -= 1
        if verdict == "failed":
            for key in keys.values():
                self.failures[key] += 1
        elif verdict == "succeeded" and "user" in keys:
            self.failures.pop(keys["user"], None)
