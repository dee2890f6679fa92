"""No SQL is put together from strings in the services: ruff's S608 where it can see, and a
small check of what reaches asyncpg where it cannot.

Values go to Postgres as bind parameters ($1, $2...), never inside the query text.

S608 (selected with the other "S" rules in pyproject.toml, ignored for no product package)
reports a string that looks like SQL and is built with an f-string, `+`, `%` or `.format()`,
wherever it is built, even from constants (`# noqa: S608` then says why). It knows SQL only by
the shapes `SELECT ... FROM`, `DELETE FROM`, `INSERT ... VALUES` and `UPDATE ... SET`, and it
looks at how a string is built, not at what reaches the database. So it does not see:

- statements of other shapes: DDL (`CREATE`, `DROP`, `ALTER`, `TRUNCATE`), `INSERT ... SELECT`
  or `SELECT` without `FROM`, and fragments built apart (`where = "a = " + x`, `q += ...`);
- strings put together with `str.join`;
- a query that is not built in sight at all: a parameter, a request's value, a call's result.

For those, ``unseen_queries`` holds every asyncpg call in the services to a string literal or a
module-level constant bound once to one; the exceptions are listed in ALLOWED with the reason.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.processes import ROOT

PACKAGES = ["gateway", "inventory_service", "order_service", "auth_service", "shared"]
RUFF = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json"]

# asyncpg's query methods. Not `prepare`: aiohttp's StreamResponse.prepare(request) has the name
# too, and S608 still reports SQL built for it.
QUERY_METHODS = frozenset({"execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"})

# (file, the query argument as ast.unparse writes it) -> why it is safe. Keyed by the
# expression, not the line, so edits elsewhere keep an entry while a changed query needs one.
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


def unseen_queries(root: Path, packages: list[str]) -> list[tuple[str, str, int]]:
    """(file, query, line) of each asyncpg call whose query is not a string literal or a
    module-level constant bound once to one."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            constants = _constants(tree)
            for call in ast.walk(tree):
                query = _query_of(call)
                if query is None or _text(query):
                    continue
                if isinstance(query, ast.Name) and query.id in constants:
                    continue
                assert isinstance(call, ast.Call)
                found.append((path.relative_to(root).as_posix(), ast.unparse(query), call.lineno))
    return found


def _constants(tree: ast.Module) -> set[str]:
    """Module-level names bound exactly once, to a string literal."""
    bound: dict[str, list[ast.expr | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.setdefault(node.target.id, []).append(node.value)
    return {name for name, values in bound.items() if len(values) == 1 and _text(values[0])}


def _query_of(node: ast.AST) -> ast.expr | None:
    """The query argument if ``node`` calls an asyncpg query method."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    if node.func.attr not in QUERY_METHODS and not node.func.attr.startswith("copy_"):
        return None
    keyword = next((k.value for k in node.keywords if k.arg in ("query", "table_name")), None)
    return keyword if keyword is not None else (node.args[0] if node.args else None)


def _text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def ruff_findings(path: Path, *options: str) -> list[dict]:
    out = subprocess.run([*RUFF, *options, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode in (0, 1), out.stderr
    return list(json.loads(out.stdout))


def test_no_query_reaches_asyncpg_out_of_s608s_sight():
    unexpected = [q for q in unseen_queries(ROOT, PACKAGES) if q[:2] not in ALLOWED]
    assert unexpected == [], "\n".join(f"{p}:{line}: {q}" for p, q, line in unexpected)


def test_every_allowed_query_is_still_there():
    # A stale entry would silently allow the next query that happens to look the same.
    found = {q[:2] for q in unseen_queries(ROOT, PACKAGES)}
    assert set(ALLOWED) <= found, set(ALLOWED) - found


@pytest.mark.parametrize("package", PACKAGES)
def test_s608_is_on_for_the_package(package, tmp_path):
    # The project's own configuration, as `make lint` runs it, on a file inside the package.
    probe = "def query(user: str) -> str:\n    return f\"SELECT * FROM t WHERE a = '{user}'\"\n"
    out = subprocess.run(
        [*RUFF, "--stdin-filename", f"{package}/probe.py", "-"],
        input=probe,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "S608" in {f["code"] for f in json.loads(out.stdout)}, out.stdout


# Each shape the old hand-written checker reported, with who reports it now: S608 or
# unseen_queries. Lines marked OK must be reported by neither.
SHAPES = """
import os

import asyncpg

TABLE = "orders"
COLUMNS = "order_id, " + "user_id"
QUERY = "SELECT order_id FROM orders WHERE user_id = $1"
BUILT_AT_IMPORT = "SELECT * FROM " + os.environ["TABLE"]  # S608 at import
COUNTER = "x"
COUNTER = "y"


async def queries(conn: asyncpg.Connection, user: str, table: str, limit: int, order: str):
    await conn.fetch("SELECT 1 FROM orders WHERE user_id = $1", user)  # OK literal
    await conn.fetch(QUERY, user)  # OK module constant
    await conn.fetch(f"SELECT * FROM orders WHERE user_id = '{user}'")  # S608 f-string
    await conn.fetch("SELECT * FROM orders WHERE user_id = '%s'" % user)  # S608 %-format
    await conn.fetch("SELECT * FROM orders WHERE user_id = '%s' AND %d" % (user, limit))  # S608
    await conn.fetch("SELECT * FROM orders WHERE user_id = '{}'".format(user))  # S608 .format
    await conn.fetch("SELECT * FROM {t}".format(t=table))  # S608 .format keyword
    await conn.fetch("SELECT * FROM orders ORDER BY " + order)  # S608 concatenation
    await conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,)])  # S608 executemany
    await conn.fetchrow(f"SELECT * FROM t LIMIT {limit}")  # S608 fetchrow
    await conn.fetchval(query=f"SELECT * FROM t WHERE a = '{user}'")  # S608 keyword
    await conn.copy_from_query(f"SELECT * FROM {table}", output="x")  # S608 copy_*
    await conn.cursor(f"SELECT * FROM {table}")  # S608 cursor
    await conn.prepare(f"SELECT * FROM {table}")  # S608 prepare
    await conn.fetch(f"SELECT * FROM t WHERE a = {user!r}")  # S608 f-string with !r
    await conn.fetch(f"SELECT * FROM t" if limit else f"SELECT * FROM {table}")  # S608 branch
    await conn.fetch(f"SELECT {COLUMNS} FROM orders WHERE user_id = $1", user)  # S608 constants
    await conn.execute(f"DROP TABLE {table}")  # UNSEEN: DDL
    await conn.fetch(f"INSERT INTO {table} (a) SELECT $1")  # UNSEEN: INSERT ... SELECT
    await conn.fetch(" ".join(["SELECT * FROM", table]))  # UNSEEN: join


async def laundering(conn: asyncpg.Connection, user: str, request):
    sql = f"SELECT * FROM orders WHERE user_id = '{user}'"  # S608 into a local
    await conn.fetch(sql)  # UNSEEN: a local
    where = "user_id = '" + user + "'"
    await conn.fetch(f"SELECT * FROM orders WHERE {where}")  # S608 a local piece
    grown = "SELECT * FROM orders"
    grown += " WHERE user_id = " + user
    await conn.fetch(grown)  # UNSEEN: +=
    await conn.fetch(request.query["sql"])  # UNSEEN: straight from the request
    await conn.fetch(user)  # UNSEEN: a parameter
    await conn.fetch(BUILT_AT_IMPORT)  # UNSEEN: a constant, but not a literal
    await conn.fetch(COUNTER)  # UNSEEN: a module name bound twice
    if q := f"SELECT {user}":
        await conn.fetch(q)  # UNSEEN: walrus


async def not_queries(pipe, response, request):
    await pipe.execute()  # OK Redis pipelines: no query at all
    await response.prepare(request)  # OK aiohttp, not asyncpg
"""


def test_every_old_injection_shape_is_reported(tmp_path):
    package = tmp_path / "scratch"
    package.mkdir()
    (package / "queries.py").write_text(textwrap.dedent(SHAPES))
    lines = (package / "queries.py").read_text().splitlines()
    marked = {
        tag: {n for n, line in enumerate(lines, 1) if f"# {tag}" in line}
        for tag in ("S608", "UNSEEN", "OK")
    }
    findings = ruff_findings(package, "--isolated", "--select", "S608")
    s608 = {f["location"]["row"] for f in findings}
    unseen = {line for _, _, line in unseen_queries(tmp_path, ["scratch"])}
    for tag, reported in (("S608", s608), ("UNSEEN", unseen)):
        missed = sorted(marked[tag] - reported)
        assert missed == [], [lines[n - 1] for n in missed]
    assert (s608 | unseen) & marked["OK"] == set()
