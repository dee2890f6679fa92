"""Use cases of the auth service; each takes its dependencies as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import uuid4

from auth_service.domain import (
    Attempt,
    Credentials,
    InvalidCredentials,
    LoginRequest,
    StoredUser,
    User,
)
from auth_service.ports import LoginThrottle, PasswordHasher, UserStore
from auth_service.tokens import IssuedToken, TokenIssuer


async def register_user(
    credentials: Credentials, *, users: UserStore, hasher: PasswordHasher
) -> User:
    """Create an ordinary account; UsernameTaken if the name exists in any letter case."""
    password_hash = await hasher.hash(credentials.password.get_secret_value())
    user = User(user_id=uuid4(), username=credentials.username, role="user")
    # No existence check first: the unique index decides, so two racing registrations
    # cannot both succeed.
    await users.add(user, password_hash)
    return user


async def login(
    request: LoginRequest,
    *,
    client: str,
    users: UserStore,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    tokens: TokenIssuer,
) -> IssuedToken:
    """A token for valid credentials; InvalidCredentials (one answer for every failure)."""
    credentials = request.well_formed()
    attempt = Attempt(credentials.username if credentials else None, client)
    # Before bcrypt: a throttled guess must cost us nothing.
    await throttle.begin(attempt)
    try:
        user = await _authenticate(credentials, users=users, hasher=hasher)
    except Exception:
        await throttle.finish(attempt, "abandoned")  # no verdict: it counts against nobody
        raise
    await throttle.finish(attempt, "failed" if user is None else "succeeded")
    if user is None:
        raise InvalidCredentials()
    return tokens.issue(user_id=user.user_id, username=user.username, role=user.role)


async def _authenticate(
    credentials: Credentials | None, *, users: UserStore, hasher: PasswordHasher
) -> StoredUser | None:
    if credentials is None:
        return None  # malformed: can never match, and says nothing about any account
    password = credentials.password.get_secret_value()
    user = await users.find(credentials.username)
    # An unknown user is checked against a dummy hash: same answer, same time.
    matched = await hasher.verify(password, user.password_hash if user else None)
    return user if matched else None


@dataclass(frozen=True)
class AdminOutcome:
    user: User
    action: Literal["created", "updated", "unchanged"]


async def ensure_admin(
    credentials: Credentials, *, users: UserStore, hasher: PasswordHasher
) -> AdminOutcome:
    """Make sure an admin account with exactly these credentials exists (idempotent).

    The configuration is the source of truth: an existing account of that name (in any letter
    case) is promoted to admin and its password reset to the configured one; an account that
    already matches is left alone, so restarts do not rewrite it.
    """
    password = credentials.password.get_secret_value()
    existing = await users.find(credentials.username)
    if (
        existing is not None
        and existing.role == "admin"
        and await hasher.verify(password, existing.password_hash)
    ):
        return AdminOutcome(User(existing.user_id, existing.username, existing.role), "unchanged")
    user, created = await users.save_admin(credentials.username, await hasher.hash(password))
    return AdminOutcome(user, "created" if created else "updated")
