"""api.http (repo root) against the spec: every operation has a request, every request is valid.

The file is read the way VS Code's REST Client and JetBrains' HTTP Client both read it, and
only in the form both understand: `###` between requests, `#` comments, file variables
(`@name = value`) and nothing else between `{{ }}` (no system variables, whose names differ
between the two tools, and no response handlers, which REST Client would send as body).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.gateway.openapi_schemas import load_spec, schema_errors

API_HTTP = Path(__file__).resolve().parents[3] / "api.http"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

FILE_VARIABLE = re.compile(r"@([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*")
VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
REQUEST_LINE = re.compile(r"([A-Z]+)\s+(\S+)(?:\s+HTTP/[0-9.]+)?")
HEADER = re.compile(r"([A-Za-z0-9-]+):\s*(.*?)\s*")


class HttpFileError(ValueError):
    """api.http is not in the form both tools read."""


@dataclass(frozen=True)
class HttpRequest:
    """One request of the file, its variables already substituted."""

    line: int
    method: str
    url: str
    headers: dict[str, str]  # names in lower case
    body: str | None

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.method} {urlsplit(self.url).path}"


def parse(text: str) -> list[HttpRequest]:
    """The requests of an .http file, with the file variables substituted."""
    variables: dict[str, str] = {}
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("###"):
            blocks.append([])
        else:
            blocks[-1].append((number, line))
    raw = [request for block in blocks if (request := _block(block, variables))]
    return [_substitute(request, variables) for request in raw]


def _block(block: list[tuple[int, str]], variables: dict[str, str]) -> HttpRequest | None:
    lines = iter(block)
    for number, line in lines:
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            continue
        if variable := FILE_VARIABLE.fullmatch(text):
            variables[variable[1]] = variable[2]
            continue
        request = REQUEST_LINE.fullmatch(text)
        if request is None or request[1].lower() not in METHODS:
            raise HttpFileError(f"line {number}: expected `METHOD URL`, got {text!r}")
        break
    else:
        return None  # comments and variables only
    headers: dict[str, str] = {}
    for header_number, line in lines:
        if not line.strip():
            break
        header = HEADER.fullmatch(line)
        if header is None:
            raise HttpFileError(f"line {header_number}: expected `Name: value`, got {line!r}")
        headers[header[1].lower()] = header[2]
    body = "\n".join(line for _, line in lines).strip()
    return HttpRequest(number, request[1], request[2], headers, body or None)


def _substitute(request: HttpRequest, variables: dict[str, str]) -> HttpRequest:
    def value(text: str, seen: tuple[str, ...] = ()) -> str:
        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name in seen:
                raise HttpFileError(f"line {request.line}: {{{{{name}}}}} refers to itself")
            if name not in variables:
                raise HttpFileError(
                    f"line {request.line}: {{{{{name}}}}} is not a file variable of api.http"
                    " (system variables and request variables differ between the two tools)"
                )
            return value(variables[name], (*seen, name))

        return VARIABLE.sub(one, text)

    return HttpRequest(
        request.line,
        request.method,
        value(request.url),
        {name: value(header) for name, header in request.headers.items()},
        value(request.body) if request.body is not None else None,
    )


# -- the spec's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    path: str
    method: str  # upper case
    definition: dict[str, Any]
    parameters: list[dict[str, Any]]  # path item's and operation's, `$ref`s resolved

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations(spec: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in spec["paths"].items():
        for method, definition in item.items():
            if method not in METHODS:
                continue
            by_key = {}
            for parameter in [*item.get("parameters", []), *definition.get("parameters", [])]:
                parameter = resolve(spec, parameter)
                by_key[parameter["name"].lower(), parameter["in"]] = parameter
            found.append(Operation(path, method.upper(), definition, list(by_key.values())))
    return found


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def template_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile(
        "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in parts
        )
    )


def operation_of(
    spec: dict[str, Any], request: HttpRequest
) -> tuple[Operation, dict[str, str]] | None:
    """The operation a request calls and its path parameters; a literal path wins over a
    template (as OpenAPI says), then the one with the fewest parameters."""
    path = urlsplit(request.url).path
    candidates = []
    for operation in operations(spec):
        match = template_pattern(operation.path).fullmatch(path)
        if match and operation.method == request.method:
            candidates.append((len(match.groupdict()), operation, match.groupdict()))
    if not candidates:
        return None
    _, operation, values = min(candidates, key=lambda c: c[0])
    return operation, values


def coverage_problems(spec: dict[str, Any], requests: list[HttpRequest]) -> list[str]:
    """Operations without a request, and requests that name no operation."""
    called = set()
    found = []
    for request in requests:
        matched = operation_of(spec, request)
        if matched is None:
            found.append(f"{request.label}: no operation of the spec has this method and path")
        else:
            called.add(matched[0].label)
    found += [
        f"{operation.label}: no request in api.http"
        for operation in operations(spec)
        if operation.label not in called
    ]
    return found


def request_problems(spec: dict[str, Any], request: HttpRequest) -> list[str]:
    """What the spec says is wrong with ``request`` (its body, parameters and token)."""
    matched = operation_of(spec, request)
    if matched is None:
        return []  # reported by coverage_problems
    operation, path_values = matched
    found = [
        *_parameter_problems(spec, operation, request, path_values),
        *_body_problems(spec, operation, request),
    ]
    secured = operation.definition.get("security", spec.get("security", [])) != []
    authorization = request.headers.get("authorization", "")
    if secured and not authorization.startswith("Bearer "):
        found.append("the operation needs `Authorization: Bearer <token>`")
    return [f"{request.label}: {problem}" for problem in found]


def _parameter_problems(
    spec: dict[str, Any], operation: Operation, request: HttpRequest, path: dict[str, str]
) -> list[str]:
    query = {
        name: values[-1]
        for name, values in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()
    }
    given = {"path": path, "query": query, "header": request.headers}
    documented = {p["name"] for p in operation.parameters if p["in"] == "query"}
    found = [
        f"query parameter {name!r} is not documented" for name in query if name not in documented
    ]
    for parameter in operation.parameters:
        where = parameter["in"]
        name = parameter["name"].lower() if where == "header" else parameter["name"]
        if name not in given.get(where, {}):
            if parameter.get("required", False):
                found.append(f"{where} parameter {parameter['name']!r} is required")
            continue
        schema = parameter["schema"]
        value: Any = given[where][name]
        if resolve(spec, schema).get("type") == "integer" and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        found += [
            f"{where} parameter {parameter['name']!r}: {error.message}"
            for error in schema_errors(spec, schema, value)
        ]
    return found


def _body_problems(spec: dict[str, Any], operation: Operation, request: HttpRequest) -> list[str]:
    body_spec = resolve(spec, operation.definition.get("requestBody", {"content": {}}))
    media = body_spec["content"].get("application/json")
    if request.body is None:
        return ["the operation needs a body"] if body_spec.get("required", False) else []
    if media is None:
        return ["the operation takes no JSON body"]
    if request.headers.get("content-type") != "application/json":
        return ["a JSON body needs `Content-Type: application/json`"]
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        return [f"the body is not JSON: {exc}"]
    return [
        f"body: {error.message} (at {error.json_path})"
        for error in schema_errors(spec, media["schema"], body)
    ]


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


@pytest.fixture(scope="module")
def requests() -> list[HttpRequest]:
    return parse(API_HTTP.read_text(encoding="utf-8"))


def test_every_operation_has_a_request_and_every_request_an_operation(spec, requests):
    found = coverage_problems(spec, requests)
    assert found == [], "\n".join(found)


def test_every_request_is_valid_for_its_operation(spec, requests):
    found = [problem for request in requests for problem in request_problems(spec, request)]
    assert found == [], "\n".join(found)


def test_purchases_are_shown_with_and_without_an_idempotency_key(spec, requests):
    purchases = [
        request
        for request in requests
        if (matched := operation_of(spec, request))
        and matched[0].definition["operationId"] == "placePurchase"
    ]
    assert {"idempotency-key" in request.headers for request in purchases} == {True, False}


def test_the_file_starts_by_saying_how_to_use_it():
    head = API_HTTP.read_text(encoding="utf-8").split("\n###", 1)[0]
    for needed in ("REST Client", "JetBrains", "@token", "@adminToken", "@saleId", "@ticketId"):
        assert needed in head, needed


BROKEN = """\
@base = http://127.0.0.1:8080
@name = al

### a body the schema refuses
POST {{base}}/api/v1/auth/register
Content-Type: application/json

{"username": "{{name}}"}

### a path no operation has
GET {{base}}/api/v1/nothing

### a method the path does not take
DELETE {{base}}/api/v1/sales

### a bad parameter, and no token
GET {{base}}/api/v1/orders?limit=0&page=2
"""


def test_the_checks_find_what_is_wrong(spec):
    requests = parse(BROKEN)
    coverage = coverage_problems(spec, requests)
    assert "line 11: GET /api/v1/nothing: no operation of the spec has this method and path" in (
        coverage
    )
    assert "line 14: DELETE /api/v1/sales: no operation of the spec has this method and path" in (
        coverage
    )
    assert "GET /api/v1/sales: no request in api.http" in coverage
    assert "POST /api/v1/auth/register: no request in api.http" not in coverage
    problems = [problem for request in requests for problem in request_problems(spec, request)]
    assert problems == [
        "line 5: POST /api/v1/auth/register: body: 'al' is too short (at $.username)",
        "line 5: POST /api/v1/auth/register: body: 'password' is a required property (at $)",
        "line 17: GET /api/v1/orders: query parameter 'page' is not documented",
        "line 17: GET /api/v1/orders: query parameter 'limit': 0 is less than the minimum of 1",
        "line 17: GET /api/v1/orders: the operation needs `Authorization: Bearer <token>`",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GET {{base}}/healthz", "{{base}} is not a file variable"),
        ("@a = {{b}}\n@b = {{a}}\nGET {{a}}/healthz", "{{a}} refers to itself"),
        ("GET http://h/x?id={{$guid}}", "{{$guid}} is not a file variable"),
        ("SEND http://h/healthz", "expected `METHOD URL`"),
        ("GET http://h/healthz\nnot a header", "expected `Name: value`"),
    ],
)
def test_what_only_one_tool_reads_is_refused(text, message):
    with pytest.raises(HttpFileError, match=re.escape(message)):
        parse(text)
