"""A static check that no SQL reaching asyncpg is built from strings at run time.

Every call of a query method (``execute``, ``fetch``...) is looked at; its query must be a
literal, a module-level constant, or an f-string / ``+`` / ``%`` / ``.format()`` made only of
those. A local variable is followed to every value bound to it in its function, and a name
imported from one of the scanned packages to that module's constant. Anything else is reported:
``built`` when strings are put together from something not constant (the injection shape), and
``opaque`` when the checker cannot see where the query comes from (a parameter, a call's result,
a loop variable): both need an explicit allow-list entry with a reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

QUERY_METHODS = frozenset(
    {"execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany", "cursor", "prepare"}
)


# Method names other libraries use too: aiohttp's StreamResponse.prepare(request). For these only
# a query that is put together from strings is reported, not one the checker cannot see into.
AMBIGUOUS_METHODS = frozenset({"prepare"})


def is_query_method(name: str) -> bool:
    return name in QUERY_METHODS or name.startswith("copy_")


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the scanned root, with "/"
    line: int
    method: str
    query: str  # the argument's source, as ast.unparse gives it
    kind: str  # "built" or "opaque"
    why: str

    @property
    def key(self) -> tuple[str, str]:
        """What an allow-list entry names: the file and the query expression (not the line)."""
        return (self.path, self.query)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.method}({self.query}) is {self.kind}: {self.why}"


class _Unsafe(Exception):
    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind, self.why = kind, why


def _built(why: str) -> _Unsafe:
    return _Unsafe("built", why)


def _opaque(why: str) -> _Unsafe:
    return _Unsafe("opaque", why)


class _Module:
    """One source file: its module-level constants and its imports."""

    def __init__(self, tree: ast.Module, dotted: str, checker: Checker) -> None:
        self.tree, self.dotted, self.checker = tree, dotted, checker
        self.bindings: dict[str, list[ast.expr | None]] = {}
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor | ast.With):
                for name in _names_bound_by(node):
                    self.bindings.setdefault(name, []).append(None)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
        # A name some function rebinds with `global` is not a constant.
        for found in ast.walk(tree):
            if isinstance(found, ast.Global):
                for name in found.names:
                    self.bindings.setdefault(name, []).append(None)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        else:
            for name in _target_names(target):
                self.bindings.setdefault(name, []).append(None)

    def constant(self, name: str, seen: frozenset[str]) -> None:
        """Raise _Unsafe unless ``name`` is a module-level constant string."""
        if name in self.bindings:
            values = self.bindings[name]
            if len(values) != 1 or values[0] is None:
                raise _opaque(f"module-level {name!r} is bound more than once or not to a value")
            self.checker.check(values[0], self, None, seen | {f"{self.dotted}.{name}"})
            return
        if name in self.imports:
            module, original = self.imports[name]
            source = self.checker.module(module)
            if source is None:
                raise _opaque(f"{name!r} comes from {module}, outside the scanned packages")
            source.constant(original, seen)
            return
        raise _opaque(f"{name!r} is not a constant of this module")


class Checker:
    """Finds query-method calls whose query is not a constant, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._modules: dict[str, _Module | None] = {}

    def module(self, dotted: str) -> _Module | None:
        if dotted not in self._modules:
            base = self.root.joinpath(*dotted.split("."))
            path = next(
                (p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None
            )
            self._modules[dotted] = None
            if path is not None:
                self._modules[dotted] = _Module(ast.parse(path.read_text()), dotted, self)
        return self._modules[dotted]

    def scan(self, packages: list[str]) -> list[Finding]:
        findings: list[Finding] = []
        for package in packages:
            for path in sorted((self.root / package).rglob("*.py")):
                relative = path.relative_to(self.root)
                dotted = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
                module = self.module(dotted)
                assert module is not None
                findings.extend(self._scan_module(module, relative.as_posix()))
        return findings

    def _scan_module(self, module: _Module, path: str) -> Iterator[Finding]:
        for function, call in _query_calls(module.tree):
            query = _query_argument(call)
            if query is None:
                continue
            assert isinstance(call.func, ast.Attribute)
            try:
                self.check(query, module, function, frozenset())
            except _Unsafe as unsafe:
                if unsafe.kind == "opaque" and call.func.attr in AMBIGUOUS_METHODS:
                    continue
                yield Finding(
                    path, call.lineno, call.func.attr, ast.unparse(query), unsafe.kind, unsafe.why
                )

    def check(
        self,
        node: ast.expr,
        module: _Module,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        seen: frozenset[str],
    ) -> None:
        """Raise _Unsafe unless ``node`` can only ever be a constant string."""
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str):
                raise _opaque(f"a {type(node.value).__name__} literal is not a query")
            return
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    self._part(part.value, module, function, seen, "an f-string")
                    if part.format_spec is not None:
                        self._part(part.format_spec, module, function, seen, "an f-string")
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            self._part(node.left, module, function, seen, "a + concatenation")
            self._part(node.right, module, function, seen, "a + concatenation")
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            self._part(node.left, module, function, seen, "a % format")
            operands = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            for operand in operands:
                self._part(operand, module, function, seen, "a % format")
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "format_map", "join")
        ):
            kind = f"a .{node.func.attr}() call"
            self._part(node.func.value, module, function, seen, kind)
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                if node.func.attr == "join" and isinstance(argument, ast.List | ast.Tuple):
                    for element in argument.elts:
                        self._part(element, module, function, seen, kind)
                else:
                    self._part(argument, module, function, seen, kind)
            return
        if isinstance(node, ast.IfExp):
            self.check(node.body, module, function, seen)
            self.check(node.orelse, module, function, seen)
            return
        if isinstance(node, ast.Name):
            self._name(node.id, module, function, seen)
            return
        raise _opaque(f"a {type(node).__name__} expression cannot be checked")

    def _part(
        self,
        node: ast.expr,
        module: _Module,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        seen: frozenset[str],
        how: str,
    ) -> None:
        """A piece of a query being put together: anything not constant makes it 'built'."""
        try:
            self.check(node, module, function, seen)
        except _Unsafe as unsafe:
            raise _built(f"{how} with {ast.unparse(node)!r} ({unsafe.why})") from None

    def _name(
        self,
        name: str,
        module: _Module,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        seen: frozenset[str],
    ) -> None:
        key = f"{module.dotted}.{getattr(function, 'name', '')}.{name}"
        if key in seen:
            raise _opaque(f"{name!r} is defined in terms of itself")
        seen = seen | {key}
        if function is not None:
            local = _local_bindings(function)
            if name in local:
                for value in local[name]:
                    if value is None:
                        raise _opaque(f"{name!r} is a parameter, loop or with target")
                    self.check(value, module, function, seen)
                return
        module.constant(name, seen)


def _query_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg in ("query", "sql", "table_name"):
            return keyword.value
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return None


def _query_calls(
    tree: ast.Module,
) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]]:
    """Every query-method call with the innermost function around it."""

    def visit(
        node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef | None
    ) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and is_query_method(child.func.attr)
            ):
                yield function, child
            yield from visit(child, inner)

    yield from visit(tree, None)


def _target_names(target: ast.expr) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _names_bound_by(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor):
        yield from _target_names(node.target)
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield from _target_names(item.optional_vars)


def _local_bindings(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> dict[str, list[ast.expr | None]]:
    """name -> every value bound to it in ``function`` (None: not a plain value)."""
    bindings: dict[str, list[ast.expr | None]] = {}
    arguments = function.args
    for arg in [
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        arguments.vararg,
        arguments.kwarg,
    ]:
        if arg is not None:
            bindings.setdefault(arg.arg, []).append(None)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings.setdefault(target.id, []).append(node.value)
                else:
                    for name in _target_names(target):
                        bindings.setdefault(name, []).append(None)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                bindings.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            # q += x is q = q + x: the result is constant only if x is.
            bindings.setdefault(node.target.id, []).append(
                ast.BinOp(left=ast.Constant(""), op=node.op, right=node.value)
            )
        elif isinstance(node, ast.NamedExpr):
            bindings.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
            for name in _names_bound_by(node):
                bindings.setdefault(name, []).append(None)
        elif isinstance(node, ast.comprehension):
            for name in _target_names(node.target):
                bindings.setdefault(name, []).append(None)
    return bindings
