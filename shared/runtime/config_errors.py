"""Errors that no retry fixes: the deployment is configured wrongly.

A process that meets one should print its message (written for the operator, no traceback)
and exit with status 2, as for a bad command line, instead of waiting or crash-looping.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# The role the login hint proposes, with a password to match. For a local setup; anywhere
# else the operator picks their own and writes it into DATABASE_URL.
HINT_ROLE = "flashsale"
HINT_PASSWORD = "flashsale"  # noqa: S105 (shown in a hint, guards nothing)


class ConfigurationError(Exception):
    """The configuration cannot work; ``str()`` says what to change."""


class PostgresLoginRefused(ConfigurationError):
    """PostgreSQL refused DATABASE_URL's login (password, role or pg_hba.conf)."""

    def __init__(self, dsn: str, reason: str) -> None:
        self.dsn = redacted(dsn)
        self.reason = reason
        server = _server(dsn)
        example = _with_login(dsn, f"{HINT_ROLE}:{HINT_PASSWORD}")
        sql = f"CREATE ROLE {HINT_ROLE} LOGIN CREATEDB PASSWORD '{HINT_PASSWORD}'"
        super().__init__(
            f"PostgreSQL at {server} refused the login in DATABASE_URL ({self.dsn}): "
            f"{reason.rstrip('.')}.\n"
            f"Set DATABASE_URL to a role and its password, e.g. DATABASE_URL={example}\n"
            f'(to create that role on the server: sudo -u postgres psql -c "{sql}")'
        )


def redacted(dsn: str) -> str:
    """``dsn`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return _with_login(dsn, f"{user}:***")


def _server(dsn: str) -> str:
    return urlsplit(dsn).netloc.rpartition("@")[2] or "the local socket"


def _with_login(dsn: str, login: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{login}@{host}").geturl()
