"""What the use cases need from the outside world, as Protocols (fakes in unit tests)."""

from __future__ import annotations

from typing import Protocol

from auth_service.domain import Attempt, StoredUser, User, Verdict


class UserStore(Protocol):
    async def add(self, user: User, password_hash: str) -> None: ...

    async def find(self, username: str) -> StoredUser | None: ...

    async def save_admin(self, username: str, password_hash: str) -> tuple[User, bool]: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str | None) -> bool: ...


class LoginThrottle(Protocol):
    async def begin(self, attempt: Attempt) -> None:
        """Admit the attempt (it is in flight until finished) or raise TooManyAttempts."""

    async def finish(self, attempt: Attempt, verdict: Verdict) -> None:
        """Record the verdict of an admitted attempt."""
