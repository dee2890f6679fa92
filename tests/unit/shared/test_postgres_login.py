"""A refused Postgres login becomes one message that says what to do, without waiting."""

import asyncpg
import pytest

from shared.runtime import resources
from shared.runtime.config_errors import ConfigurationError, PostgresLoginRefused, redacted

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/flashsale"


def test_the_message_names_database_url_the_server_and_a_working_pair():
    message = str(PostgresLoginRefused(DEFAULT_URL, 'password authentication failed for "x"'))

    assert message.splitlines() == [
        "PostgreSQL at 127.0.0.1:5432 refused the login in DATABASE_URL "
        f'({DEFAULT_URL}): password authentication failed for "x".',
        "Set DATABASE_URL to a role and its password, e.g. "
        "DATABASE_URL=postgresql://flashsale:flashsale@127.0.0.1:5432/flashsale",
        "(to create that role on the server: sudo -u postgres psql -c "
        "\"CREATE ROLE flashsale LOGIN CREATEDB PASSWORD 'flashsale'\")",
    ]


def test_the_message_keeps_the_server_and_database_but_never_the_password():
    url = "postgresql://shop:hunter2@[::1]:6543/sales?sslmode=prefer"
    error = PostgresLoginRefused(url, "no pg_hba.conf entry")

    assert "hunter2" not in str(error)
    assert error.dsn == "postgresql://shop:***@[::1]:6543/sales?sslmode=prefer"
    assert "at [::1]:6543 " in str(error)
    assert "DATABASE_URL=postgresql://flashsale:flashsale@[::1]:6543/sales?sslmode=prefer" in str(
        error
    )


def test_redacted_leaves_a_url_without_password_alone():
    assert redacted(DEFAULT_URL) == DEFAULT_URL


@pytest.mark.parametrize(
    "refusal",
    [
        asyncpg.InvalidPasswordError('password authentication failed for user "postgres"'),
        asyncpg.InvalidAuthorizationSpecificationError('role "shop" does not exist'),
        asyncpg.InvalidAuthorizationSpecificationError(
            'no pg_hba.conf entry for host "10.0.0.9", user "shop", database "postgres"'
        ),
    ],
)
async def test_a_refused_login_is_a_configuration_error_at_once(monkeypatch, refusal):
    attempts = []

    async def connect(dsn, **kwargs):
        attempts.append(kwargs)
        raise refusal

    monkeypatch.setattr(asyncpg, "connect", connect)

    with pytest.raises(ConfigurationError) as caught:
        await resources.connect_postgres(DEFAULT_URL, database="postgres")

    assert isinstance(caught.value, PostgresLoginRefused)
    assert str(refusal) in str(caught.value)
    assert attempts == [{"database": "postgres", "timeout": 5}], "a refused login is not retried"


async def test_a_server_that_is_down_is_still_waited_for(monkeypatch):
    attempts = []
    connection = object()

    async def connect(dsn, **kwargs):
        attempts.append(dsn)
        if len(attempts) == 1:
            raise ConnectionRefusedError("not yet")
        return connection

    monkeypatch.setattr(asyncpg, "connect", connect)

    assert await resources.connect_postgres(DEFAULT_URL) is connection
    assert len(attempts) == 2
