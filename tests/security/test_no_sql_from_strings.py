"""No SQL is put together from strings anywhere in the services (a static check of the source).

Values go to Postgres as bind parameters ($1, $2...), never inside the query text. The only
queries built at run time are listed below, each with the reason it is safe.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.security.sqlcheck import Checker, Finding
from tests.support.processes import ROOT

PACKAGES = ["gateway", "inventory_service", "order_service", "auth_service", "shared"]

# (file, the query argument exactly as ast.unparse writes it) -> why it is safe. Keyed by the
# expression, not the line number, so edits elsewhere in the file do not invalidate an entry,
# while any change to the query itself needs a new look.
ALLOWED: dict[tuple[str, str], str] = {
    ("shared/migrate.py", "f'CREATE DATABASE {quoted}'"): (
        "CREATE DATABASE takes no bind parameters. The name comes from the operator's "
        "DATABASE_URL, and is quoted as an identifier just above (wrapped in double quotes, "
        'every " doubled), so it cannot end the identifier.'
    ),
    ("shared/migrate.py", "sql"): (
        "The migration files shipped inside the package (shared/migrations/*.sql, read by "
        "migration_files()); nothing from a request or the environment."
    ),
}


def scan(root: Path, packages: list[str]) -> list[Finding]:
    return Checker(root).scan(packages)


def test_no_query_is_built_from_strings():
    unexpected = [f for f in scan(ROOT, PACKAGES) if f.key not in ALLOWED]
    assert unexpected == [], "\n".join(map(str, unexpected))


def test_every_allowed_query_is_still_there():
    # A stale entry would silently allow the next query that happens to look the same.
    found = {f.key for f in scan(ROOT, PACKAGES)}
    assert set(ALLOWED) <= found, set(ALLOWED) - found


# A scratch package: each query marked BAD must be reported, each marked OK must not.
SCRATCH = """
import asyncpg
from scratch.constants import COLUMNS as IMPORTED_COLUMNS, built_at_import

TABLE = "orders"
COLUMNS = "order_id, " + "user_id"
QUERY = f"SELECT {COLUMNS} FROM {TABLE} WHERE user_id = $1"
COUNTER = "x"
COUNTER = "y"


async def queries(conn: asyncpg.Connection, user: str, table: str, limit: int, order: str):
    await conn.fetch("SELECT 1 FROM orders WHERE user_id = $1", user)  # OK literal
    await conn.fetch(QUERY, user)  # OK module constant
    await conn.fetch(f"SELECT {COLUMNS} FROM orders WHERE user_id = $1", user)  # OK constants
    await conn.fetch(f"SELECT {IMPORTED_COLUMNS} FROM t WHERE a = $1", user)  # OK imported
    await conn.fetch("SELECT " + COLUMNS + " FROM orders")  # OK concatenated constants
    await conn.fetch(f"SELECT * FROM orders WHERE user_id = '{user}'")  # BAD f-string
    await conn.fetch("SELECT * FROM orders WHERE user_id = '%s'" % user)  # BAD %-format
    await conn.fetch("SELECT * FROM orders WHERE user_id = '%s' AND %d" % (user, limit))  # BAD
    await conn.fetch("SELECT * FROM orders WHERE user_id = '{}'".format(user))  # BAD .format
    await conn.fetch("SELECT * FROM {t}".format(t=table))  # BAD .format keyword
    await conn.fetch("SELECT * FROM orders ORDER BY " + order)  # BAD concatenation
    await conn.execute(f"DROP TABLE {table}")  # BAD execute
    await conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,)])  # BAD executemany
    await conn.fetchrow(f"SELECT * FROM t LIMIT {limit}")  # BAD fetchrow
    await conn.fetchval(query=f"SELECT * FROM t WHERE a = '{user}'")  # BAD keyword
    await conn.copy_from_query(f"SELECT * FROM {table}", output="x")  # BAD copy_*
    await conn.cursor(f"SELECT * FROM {table}")  # BAD cursor
    await conn.fetch(" ".join(["SELECT * FROM", table]))  # BAD join
    await conn.fetch(f"SELECT * FROM t WHERE a = {user!r}")  # BAD f-string with !r
    await conn.fetch(f"SELECT * FROM t" if limit else f"SELECT * FROM {table}")  # BAD branch


async def laundering(conn: asyncpg.Connection, user: str, request):
    sql = f"SELECT * FROM orders WHERE user_id = '{user}'"
    await conn.fetch(sql)  # BAD via a local
    where = "user_id = '" + user + "'"
    await conn.fetch(f"SELECT * FROM orders WHERE {where}")  # BAD via a local piece
    ok = "SELECT * FROM orders WHERE user_id = $1"
    await conn.fetch(ok, user)  # OK local constant
    grown = "SELECT * FROM orders"
    grown += " WHERE user_id = " + user
    await conn.fetch(grown)  # BAD +=
    await conn.fetch(request.query["sql"])  # BAD straight from the request (opaque)
    await conn.fetch(built_at_import)  # BAD imported, but not a constant there
    await conn.fetch(COUNTER)  # BAD module name bound twice
    await conn.fetch(user)  # BAD a parameter (opaque)
    if (q := f"SELECT {user}"):
        await conn.fetch(q)  # BAD walrus


async def not_queries(pipe, response, request):
    await pipe.execute()  # no query at all: Redis pipelines
    await response.prepare(request)  # OK aiohttp, not asyncpg


async def prepared(conn: asyncpg.Connection, table: str):
    await conn.prepare(f"SELECT * FROM {table}")  # BAD prepare
    statement = "SELECT * FROM " + table
    await conn.prepare(statement)  # BAD prepare via a local
"""

SCRATCH_CONSTANTS = """
import os

COLUMNS = "a, b"
built_at_import = "SELECT * FROM " + os.environ["TABLE"]
"""


def test_the_checker_catches_injection_shapes(tmp_path):
    package = tmp_path / "scratch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "queries.py").write_text(textwrap.dedent(SCRATCH))
    (package / "constants.py").write_text(textwrap.dedent(SCRATCH_CONSTANTS))
    lines = (package / "queries.py").read_text().splitlines()
    bad = {n for n, line in enumerate(lines, 1) if "# BAD" in line}
    ok = {n for n, line in enumerate(lines, 1) if "# OK" in line}
    findings = scan(tmp_path, ["scratch"])
    flagged = {f.line for f in findings}
    assert bad - flagged == set(), [lines[n - 1] for n in sorted(bad - flagged)]
    assert flagged & ok == set(), [str(f) for f in findings if f.line in ok]
    assert flagged <= bad, [str(f) for f in findings if f.line not in bad]
    # String building is told apart from what the checker merely cannot see through.
    kinds = {f.line: f.kind for f in findings}
    assert kinds[next(n for n in bad if "BAD f-string" in lines[n - 1])] == "built"
    assert kinds[next(n for n in bad if "straight from the request" in lines[n - 1])] == "opaque"


def test_the_allow_list_does_not_hide_a_new_query_in_the_same_file(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "__init__.py").write_text("")
    (shared / "migrate.py").write_text(
        textwrap.dedent(
            """
            async def create_database(conn, name):
                quoted = '"' + name.replace('"', '""') + '"'
                await conn.execute(f"CREATE DATABASE {quoted}")
                await conn.execute(f"DROP DATABASE {name}")
            """
        )
    )
    unexpected = [f for f in scan(tmp_path, ["shared"]) if f.key not in ALLOWED]
    assert [f.query for f in unexpected] == ["f'DROP DATABASE {name}'"]
