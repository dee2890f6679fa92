"""Pure rules of the auth service: account names, passwords, roles, users and errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationError

from shared.contracts.errors import Conflict, TooManyRequests, Unauthorized
from shared.contracts.tokens import Role

USERNAME_MIN, USERNAME_MAX = 3, 64
# fullmatch, not `^...$`: in Python `$` also matches before a trailing newline.
_USERNAME_CHARS = re.compile(r"[A-Za-z0-9_.-]+")
# bcrypt only looks at the first 72 bytes (and bcrypt 5 refuses longer input), so the
# limit is on the UTF-8 encoding, not on characters.
PASSWORD_MIN_BYTES, PASSWORD_MAX_BYTES = 8, 72


def username_problem(username: str) -> str | None:
    """Why ``username`` is not acceptable, or None."""
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        return f"username must be {USERNAME_MIN}-{USERNAME_MAX} characters long"
    if not _USERNAME_CHARS.fullmatch(username):
        return "username may contain only letters A-Z, digits, '_', '.' and '-'"
    return None


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON allows: no UTF-8 form to hash
        return "password must be valid Unicode text"
    if not PASSWORD_MIN_BYTES <= size <= PASSWORD_MAX_BYTES:
        return f"password must be {PASSWORD_MIN_BYTES}-{PASSWORD_MAX_BYTES} bytes long in UTF-8"
    return None


def _check_username(value: str) -> str:
    problem = username_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_password(value: SecretStr) -> SecretStr:
    problem = password_problem(value.get_secret_value())
    if problem:
        raise ValueError(problem)
    return value


Username = Annotated[str, AfterValidator(_check_username)]
Password = Annotated[SecretStr, AfterValidator(_check_password)]


class Credentials(BaseModel):
    """A well-formed username and password (the body of a registration)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: Username
    password: Password


class LoginRequest(BaseModel):
    """A login body: only the types are checked, so a 422 never hints at the account rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: SecretStr

    def well_formed(self) -> Credentials | None:
        """These credentials if they obey the account rules; None if they never could match."""
        try:
            return Credentials(username=self.username, password=self.password)
        except ValidationError:
            return None


@dataclass(frozen=True)
class User:
    """An account as the rest of the system sees it."""

    user_id: UUID
    username: str
    role: Role


@dataclass(frozen=True)
class StoredUser(User):
    """An account with its password hash, as the repository returns it."""

    password_hash: str = field(repr=False)


# What a login attempt came to: a wrong password, a right one, or no answer (a dependency
# failed), which counts against nobody.
Verdict = Literal["succeeded", "failed", "abandoned"]


@dataclass(frozen=True)
class Attempt:
    """Who is trying to log in: the username (None if malformed) and the client address."""

    username: str | None
    client: str


class UsernameTaken(Conflict):
    default_code = "username_taken"

    def __init__(self) -> None:
        super().__init__("this username is already taken")


class InvalidCredentials(Unauthorized):
    default_code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class TooManyAttempts(TooManyRequests):
    default_code = "too_many_attempts"

    def __init__(self, retry_after: int, *, limit: str = "client") -> None:
        super().__init__(
            "too many failed login attempts; retry later",
            retry_after=retry_after,
        )
        # Which limit refused (client, user, account, in_flight): for metrics, not the client.
        self.limit = limit
