"""A Postgres that refuses DATABASE_URL's login: `python -m shared.migrate` says what to do.

As on a stock Debian server, the private cluster asks TCP clients for a password. The default
DATABASE_URL has none: the migration must exit 2 with one message naming DATABASE_URL and the
server (no traceback), and the role and URL it proposes must really work.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from tests.support.private_servers import PrivatePostgres, private_postgres
from tests.support.processes import ARTIFACTS, ROOT

PASSWORD = "s3cret-for-the-test"


@dataclass
class Migration:
    returncode: int
    stdout: str
    stderr: str


async def run_migrate(database_url: str) -> Migration:
    """`python -m shared.migrate` with this DATABASE_URL and no password from elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(DATABASE_URL=database_url, PGPASSFILE=os.devnull)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.migrate",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"migrate did not finish within 30 s with {database_url}") from None
    assert process.returncode is not None
    return Migration(process.returncode, stdout.decode(), stderr.decode())


def assert_login_hint(result: Migration, server: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert "DATABASE_URL" in result.stderr and server in result.stderr, result.stderr
    assert "CREATE ROLE" in result.stderr, result.stderr
    assert PASSWORD not in output and "wrong-password" not in output, output


def url_with_login(url: str, login: str, database: str) -> str:
    host = urlsplit(url).netloc.rpartition("@")[2]
    return f"postgresql://{login}@{host}/{database}"


async def test_a_missing_or_wrong_password_gets_the_hint_and_the_hint_works(request):
    async with private_postgres(
        ARTIFACTS / request.node.name, database=None, password=PASSWORD
    ) as db:
        server = f"127.0.0.1:{db.port}"
        refused = [
            await run_migrate(url_with_login(db.url(), login, "shop"))
            for login in ("postgres", "postgres:wrong-password", "nobody")
        ]
        for result in refused:
            assert_login_hint(result, server)

        with_password = await run_migrate(db.url("flashsale"))
        assert with_password.returncode == 0, with_password.stdout + with_password.stderr

        # Follow the hint: run its CREATE ROLE (psql as the postgres account is what an operator
        # would use; here the superuser's password does the same) and migrate with its URL.
        hint = refused[0].stderr
        example = re.search(r"DATABASE_URL=(\S+)", hint)
        create = re.search(r'psql -c "(CREATE ROLE [^"]+)"', hint)
        assert example and create, hint
        assert example[1].endswith(f"@{server}/shop"), hint
        admin = await asyncpg.connect(db.url())
        try:
            await admin.execute(create[1])
        finally:
            await admin.close()
        followed = await run_migrate(example[1])
        assert followed.returncode == 0, followed.stdout + followed.stderr
        role = urlsplit(example[1]).username
        conn = await asyncpg.connect(db.url("shop"))
        try:
            owner = await conn.fetchval(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"
            )
        finally:
            await conn.close()
        assert owner == role


async def test_no_pg_hba_entry_gets_the_hint(request):
    server = PrivatePostgres(ARTIFACTS / request.node.name, password=PASSWORD)
    try:
        await server.start()
        # Only the postgres role may connect over TCP: any other gets "no pg_hba.conf entry".
        (server.data / "pg_hba.conf").write_text(
            "host all postgres 127.0.0.1/32 scram-sha-256\nlocal all all scram-sha-256\n"
        )
        await server.restart()
        admin = await asyncpg.connect(server.url())
        try:
            await admin.execute(f"CREATE ROLE shopper LOGIN PASSWORD '{PASSWORD}'")
        finally:
            await admin.close()
        result = await run_migrate(url_with_login(server.url(), f"shopper:{PASSWORD}", "shop"))
        assert "no pg_hba.conf entry" in result.stderr, result.stderr
        assert_login_hint(result, f"127.0.0.1:{server.port}")
    finally:
        server.close()


async def test_a_role_that_does_not_exist_gets_the_hint(servers):
    # The shared server trusts local TCP clients, so the login fails on the role alone.
    url = url_with_login(servers.postgres_url, "fs_no_such_role", "fs_no_such_database")
    result = await run_migrate(url)
    assert 'role "fs_no_such_role" does not exist' in result.stderr, result.stderr
    assert_login_hint(result, urlsplit(url).netloc.rpartition("@")[2])
