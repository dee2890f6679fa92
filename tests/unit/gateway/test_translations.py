"""The web page's words (gateway/static/web): every text in every language, every key the page
uses in the catalogs, every error code the API answers with worded, and no text on the page
that bypasses the catalogs.

The catalogs (messages-*.js) are JSON between `export default` and the final `;` (plus
whole-line comments), so they are read here without a JavaScript engine; the modules are
scanned by a small tokenizer that knows strings, template literals, comments and regexes.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest

from gateway.domain import OrderStatus, TicketStatus
from shared.contracts.messages import RejectReason
from shared.contracts.sales import SaleState
from shared.runtime import web as runtime_web

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "gateway" / "static" / "web"
REFERENCE = "en"
PLURAL_CATEGORIES = {"zero", "one", "two", "few", "many", "other"}
# Packages whose errors reach the page through the gateway.
SERVICES = ("shared", "gateway", "auth_service", "inventory_service", "order_service")
# Codes the page makes up itself (api.js): no server answers with them.
PAGE_CODES = {"network_error"}

Text = str | dict[str, str]


# --- reading the catalogs ---------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, f"keys given twice (the last one would win): {duplicates}"
    return dict(pairs)


def read_catalog(path: Path) -> dict[str, Text]:
    source = path.read_text("utf-8")
    start = source.index("export default") + len("export default")
    body = source[start:].strip()
    assert body.endswith(";"), f"{path.name}: the catalog must end with `}};`"
    lines = [line for line in body[:-1].splitlines() if not line.strip().startswith("//")]
    catalog = json.loads("\n".join(lines), object_pairs_hook=_no_duplicates)
    assert isinstance(catalog, dict)
    return catalog


@cache
def catalogs() -> dict[str, dict[str, Text]]:
    found = {
        path.stem.removeprefix("messages-"): read_catalog(path)
        for path in sorted(WEB.glob("messages-*.js"))
    }
    assert REFERENCE in found and len(found) >= 2, sorted(found)
    return found


def reference() -> dict[str, Text]:
    return catalogs()[REFERENCE]


def forms(text: Text) -> list[str]:
    return list(text.values()) if isinstance(text, dict) else [text]


def placeholders(text: Text) -> set[str]:
    return {name for form in forms(text) for name in re.findall(r"\{(\w+)\}", form)}


def namespaces() -> set[str]:
    return {key.split(".")[0] for key in reference()}


# --- reading the modules ----------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A string or template literal (each `${...}` of a template as `{}`) in a module."""

    module: str
    line: int
    text: str
    before: str  # the code on the same line before the literal

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.text!r}"


_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_KEYWORD = re.compile(r"(?:^|[^\w$])(?:return|typeof|case|in|of|delete|void|throw)\s*$")


class _Scanner:
    """Finds the literals of one module; enough JavaScript for the page's own code."""

    def __init__(self, module: str, source: str) -> None:
        self.module = module
        self.src = source
        self.found: list[Literal] = []

    def record(self, start: int, text: str) -> None:
        line_start = self.src.rfind("\n", 0, start) + 1
        line = self.src.count("\n", 0, start) + 1
        self.found.append(Literal(self.module, line, text, self.src[line_start:start]))

    def code(self, i: int, *, until_brace: bool = False) -> int:
        src, depth, prev = self.src, 0, ""
        while i < len(src):
            c = src[i]
            if c.isspace():
                i += 1
            elif src.startswith("//", i):
                end = src.find("\n", i)
                i = len(src) if end == -1 else end
            elif src.startswith("/*", i):
                i = src.index("*/", i) + 2
            elif c in "\"'":
                i, prev = self.string(i), "a"
            elif c == "`":
                i, prev = self.template(i), "a"
            elif c == "/" and (
                prev in _REGEX_AFTER or prev == "" or _REGEX_KEYWORD.search(src[:i])
            ):
                i, prev = self.regex(i), "a"
            else:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if until_brace and depth == 0:
                        return i + 1
                    depth -= 1
                prev = "a" if (c.isalnum() or c in "_$)]") else c
                i += 1
        return i

    def string(self, i: int) -> int:
        quote, j = self.src[i], i + 1
        while self.src[j] != quote:
            j += 2 if self.src[j] == "\\" else 1
        self.record(i, self.src[i + 1 : j])
        return j + 1

    def template(self, i: int) -> int:
        j, text = i + 1, []
        while self.src[j] != "`":
            if self.src[j] == "\\":
                text.append(self.src[j : j + 2])
                j += 2
            elif self.src.startswith("${", j):
                text.append("{}")
                j = self.code(j + 2, until_brace=True)
            else:
                text.append(self.src[j])
                j += 1
        self.record(i, "".join(text))
        return j + 1

    def regex(self, i: int) -> int:
        j, in_class = i + 1, False
        while in_class or self.src[j] != "/":
            if self.src[j] == "\\":
                j += 1
            elif self.src[j] == "[":
                in_class = True
            elif self.src[j] == "]":
                in_class = False
            j += 1
        j += 1
        while j < len(self.src) and self.src[j].isalpha():
            j += 1
        return j


@cache
def modules() -> dict[str, str]:
    return {
        path.name: path.read_text("utf-8")
        for path in sorted(WEB.glob("*.js"))
        if not path.name.startswith("messages-")
    }


@cache
def literals() -> list[Literal]:
    found: list[Literal] = []
    for name, source in modules().items():
        scanner = _Scanner(name, source)
        scanner.code(0)
        found.extend(scanner.found)
    return found


def _call_before(literal: Literal, *functions: str) -> bool:
    names = "|".join(functions)
    return bool(re.search(rf"(?:^|[^\w$.])(?:{names})\(\s*$", literal.before))


# --- reading the page -------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Attributes people read or hear.
SPOKEN_ATTRIBUTES = {
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "title",
    "alt",
    "placeholder",
}
HAS_LETTERS = re.compile(r"[^\W\d_]")


class _PageReader(HTMLParser):
    """Collects the text and spoken attributes of index.html with the keys that cover them."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str], list[str]]] = []
        self.uncovered: list[str] = []  # text or attributes without a key
        self.covered: list[tuple[str, str]] = []  # (key, the page's English)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        keyed = dict(pair.split(":", 1) for pair in values.get("data-i18n-attr", "").split())
        for name in SPOKEN_ATTRIBUTES & values.keys():
            if not HAS_LETTERS.search(values[name]):
                continue
            if name in keyed:
                self.covered.append((keyed[name], values[name]))
            else:
                self.uncovered.append(f'<{tag} {name}="{values[name]}"> (line {self.getpos()[0]})')
        self.covered.extend((key, "") for name, key in keyed.items() if name not in values)
        if tag not in VOID:
            self.stack.append((tag, values, []))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, values, text = self.stack.pop()
            if "data-i18n" in values:
                self.covered.append((values["data-i18n"], " ".join("".join(text).split())))
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if not HAS_LETTERS.search(data):
            return
        if not self.stack or "data-i18n" not in self.stack[-1][1]:
            where = self.stack[-1][0] if self.stack else "document"
            self.uncovered.append(f"{data.strip()!r} in <{where}> (line {self.getpos()[0]})")
            return
        self.stack[-1][2].append(data)


@cache
def page() -> _PageReader:
    reader = _PageReader()
    reader.feed((WEB / "index.html").read_text("utf-8"))
    reader.close()
    return reader


# --- the spec and the code: what the API can answer -------------------------------------


@cache
def spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((ROOT / "gateway" / "openapi.json").read_text("utf-8"))
    return spec


def _walk(node: Any) -> Any:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def raised(attribute: str) -> dict[str, str]:
    """The values the services assign to `attribute` (`code="sold_out"`, also each branch of
    `code="a" if paid else "b"`), each with the file it is in."""
    assignment = re.compile(rf"\b{attribute}\s*(?::[^=\n]*)?=(?!=)\s*([^\n]*)")
    value = re.compile(r"""(?<!== )(?<!!= )(?<!\[)["']([a-z][a-z0-9_]*)["']""")
    found: dict[str, str] = {}
    for package in SERVICES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for rest in assignment.findall(path.read_text("utf-8")):
                for code in value.findall(rest):
                    found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def api_error_codes() -> dict[str, str]:
    """Every error code the API documents or raises, with where it was found."""
    codes: dict[str, str] = {}
    for node in _walk(spec()):
        # Examples of error bodies: {"error": {"code": ..., "message": ...}}.
        if isinstance(node, dict) and isinstance(node.get("error"), dict):
            code = node["error"].get("code")
            if isinstance(code, str):
                codes.setdefault(code, "gateway/openapi.json (an example)")
    error = spec()["components"]["schemas"]["Error"]["properties"]["error"]
    for code in re.findall(r"`([a-z][a-z0-9_]*)`", error["properties"]["code"]["description"]):
        codes.setdefault(code, "gateway/openapi.json (Error.code)")
    # The codes of plain HTTP errors (404 for an unknown path, 405, ...), by status.
    for code in runtime_web._STATUS_CODES.values():
        codes.setdefault(code, "shared/runtime/web.py (_STATUS_CODES)")
    return {**codes, **raised("(?:default_)?code")}


def _enum(name: str, prop: str | None = None) -> list[str]:
    schema = spec()["components"]["schemas"].get(name, {})
    if prop is not None:
        schema = schema.get("properties", {}).get(prop, {})
    return [value for value in schema.get("enum", []) if value is not None]


# Catalog prefixes of the API's enums, each with the values the spec or the code allows (the
# code's too: the spec may lag behind a new value for a while, the page may not).
ENUMS = {
    "sale.state": lambda: {*_enum("Sale", "state"), *get_args(SaleState)},
    "sale.state_word": lambda: {*_enum("Sale", "state"), *get_args(SaleState)},
    "ticket.status": lambda: {*_enum("TicketStatus"), *get_args(TicketStatus)},
    "rejection": lambda: {*_enum("Ticket", "reason"), *get_args(RejectReason)},
    "order.status": lambda: {
        *_enum("OrderStatus"),
        *_enum("Order", "status"),
        *get_args(OrderStatus),
    },
}


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(set(catalogs()) - {REFERENCE}))
def test_every_language_has_exactly_the_reference_keys(language):
    keys, expected = set(catalogs()[language]), set(reference())
    missing, unknown = sorted(expected - keys), sorted(keys - expected)
    assert not missing, f"messages-{language}.js has no translation for: {missing}"
    assert not unknown, f"messages-{language}.js has keys messages-{REFERENCE}.js lacks: {unknown}"


@pytest.mark.parametrize("language", sorted(catalogs()))
def test_no_text_is_empty_and_plural_forms_are_whole(language):
    for key, text in catalogs()[language].items():
        assert isinstance(text, str | dict), f"messages-{language}.js: {key} is not text"
        if isinstance(text, dict):
            assert "other" in text, f"messages-{language}.js: {key} has no 'other' plural form"
            assert set(text) <= PLURAL_CATEGORIES, f"messages-{language}.js: {key}: {sorted(text)}"
        for form in forms(text):
            assert isinstance(form, str) and form.strip(), f"messages-{language}.js: {key} is empty"


@pytest.mark.parametrize("language", sorted(set(catalogs()) - {REFERENCE}))
def test_translations_keep_every_placeholder(language):
    for key, text in reference().items():
        translated = catalogs()[language].get(key)
        if translated is None:
            continue  # reported by the test of the keys
        assert isinstance(translated, dict) == isinstance(text, dict), (
            f"messages-{language}.js: {key} must have plural forms exactly where English has"
        )
        lost, made_up = (
            placeholders(text) - placeholders(translated),
            placeholders(translated) - placeholders(text),
        )
        assert not lost, f"messages-{language}.js: {key} lacks {sorted(lost)}: {translated!r}"
        assert not made_up, (
            f"messages-{language}.js: {key} has unknown {sorted(made_up)}: {translated!r}"
        )


def test_every_catalog_is_loaded_by_the_page():
    i18n = modules()["i18n.js"]
    for language in catalogs():
        assert f'import {language} from "./messages-{language}.js";' in i18n, language


def test_every_key_the_modules_use_is_in_the_catalog():
    missing = []
    prefixes = {lit.text for lit in literals() if _call_before(lit, "tEnum")}
    for lit in literals():
        if _call_before(lit, "tEnum"):
            continue
        looks_like_key = (
            re.fullmatch(r"[a-z_]+(?:\.[a-z0-9_]+)+", lit.text)
            and lit.text.split(".")[0] in namespaces()
        )
        dynamic = "{}" in lit.text  # `error.${code}`: checked against the codes and enums below
        used = (_call_before(lit, "t", "tParts") or looks_like_key) and not dynamic
        if used and lit.text not in reference() and lit.text not in prefixes:
            missing.append(str(lit))
    assert not missing, f"keys the modules use that messages-{REFERENCE}.js lacks: {missing}"
    unchecked = sorted(prefixes - set(ENUMS))
    assert not unchecked, f"tEnum prefixes with no API enum to check them against: {unchecked}"


def test_every_key_the_page_names_is_in_the_catalog_with_the_same_english():
    for key, english in page().covered:
        assert key in reference(), f"index.html names {key!r}, which messages-{REFERENCE}.js lacks"
        if english:
            assert english == reference()[key], (
                f"index.html's text for {key} is {english!r}, the catalog's {reference()[key]!r}"
            )


def test_every_error_code_has_words():
    codes = {**api_error_codes(), **{code: "the page (api.js)" for code in PAGE_CODES}}
    missing = {code: where for code, where in codes.items() if f"error.{code}" not in reference()}
    assert not missing, f"error codes without words (add error.<code> to every catalog): {missing}"


def test_every_payment_failure_has_words():
    codes = raised("failure_code")
    missing = {
        code: where for code, where in codes.items() if f"payment_failure.{code}" not in reference()
    }
    assert not missing, f"payment failure codes without words (payment_failure.<code>): {missing}"


@pytest.mark.parametrize("prefix", sorted(ENUMS))
def test_every_value_of_the_api_enums_has_words(prefix):
    values = sorted(ENUMS[prefix]())
    missing = [f"{prefix}.{value}" for value in values if f"{prefix}.{value}" not in reference()]
    assert not missing, f"enum values without words: {missing}"


def test_the_page_has_no_text_outside_the_catalog():
    assert not page().uncovered, (
        "text in index.html without a key (data-i18n for text, data-i18n-attr for "
        f"attributes): {page().uncovered}"
    )


# Technical strings the modules send or compare, never show: HTTP header names and the like.
NOT_SHOWN = {
    "Accept",
    "Content-Type",
    "Authorization",
    "Bearer {}",
    "Idempotency-Key",
    "Retry-After",
}
_PROSE_WORD = r"[A-Za-z][a-z']*[.,:;!?…]?"
_CAPITALISED = re.compile(r"(?<![\w$])[A-Z][a-z]+\b")
# Where a literal becomes text on the page or in the accessibility tree.
_SINKS = re.compile(
    r"""\.(?:textContent|innerText|title|placeholder|alt|label)\s*=[^;=]*$"""
    r"""|setAttribute\(\s*["'](?:aria-label|aria-description|title|placeholder|alt)["']\s*,\s*$"""
    r"""|["']?(?:aria-label|aria-description|title|placeholder|alt|text)["']?\s*:\s*$"""
    r"""|\b(?:setText|setNotice|showMessage|showSuccess)\(\s*[\w$.]+(?:\([^()]*\))?\s*,\s*$"""
    r"""|\b(?:announce|alertUser)\(\s*$"""
)


def _looks_like_prose(text: str) -> bool:
    words = text.split()
    pairs = itertools.pairwise(words)
    return bool(_CAPITALISED.search(text)) or any(
        re.fullmatch(_PROSE_WORD, a) and re.fullmatch(_PROSE_WORD, b) for a, b in pairs
    )


def test_the_modules_show_no_text_of_their_own():
    hard_coded = []
    for lit in literals():
        if not HAS_LETTERS.search(lit.text) or lit.text in NOT_SHOWN:
            continue
        if _call_before(lit, "t", "tParts", "tEnum") or lit.text in reference():
            continue  # a key
        if re.search(r"\bnew \w*(?:Error|Exception)\(", lit.before):
            continue  # a message for developers, in the console
        if _looks_like_prose(lit.text) or _SINKS.search(lit.before):
            hard_coded.append(str(lit))
    assert not hard_coded, f"text in the modules that bypasses the catalogs (use t()): {hard_coded}"


def test_the_checks_catch_hard_coded_text():
    """The scanners themselves: they see what they must, and skip comments and regexes."""
    source = (
        '// "A comment" is not text\n'
        'const re = /"quoted"/g;\n'
        'el.textContent = "Buy";\n'
        'h("p", { "aria-label": "sale" }, `Ends in ${f(`x`)} min`);\n'
        't("sale.buy");\n'
    )
    scanner = _Scanner("probe.js", source)
    scanner.code(0)
    texts = [(lit.line, lit.text) for lit in scanner.found]
    assert texts == [
        (3, "Buy"),
        (4, "p"),
        (4, "aria-label"),
        (4, "sale"),
        (4, "x"),
        (4, "Ends in {} min"),
        (5, "sale.buy"),
    ]
    shown = [
        lit for lit in scanner.found if _looks_like_prose(lit.text) or _SINKS.search(lit.before)
    ]
    assert [lit.text for lit in shown] == ["Buy", "sale", "Ends in {} min"]
    reader = _PageReader()
    reader.feed('<p data-i18n="a.b">Fine</p><p>Bare <b data-i18n="c.d">ok</b></p><img alt="Logo">')
    assert (
        len(reader.uncovered) == 2
        and "Bare" in reader.uncovered[0]
        and "Logo" in reader.uncovered[1]
    )
