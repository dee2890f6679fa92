"""The load-test accounts stay fenced off: nothing of the service but `__main__` imports them."""

import ast
from pathlib import Path

import auth_service

PACKAGE = Path(auth_service.__file__).parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_only_the_command_line_wires_the_load_test_package():
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "loadtest" not in path.relative_to(PACKAGE).parts
        and any(m.startswith("auth_service.loadtest") for m in imported_modules(path))
    }
    assert importers == {"__main__.py"}


def test_the_user_store_port_knows_real_accounts_only():
    from auth_service.ports import UserStore

    assert {name for name in vars(UserStore) if not name.startswith("_")} == {
        "add",
        "find",
        "save_admin",
    }
