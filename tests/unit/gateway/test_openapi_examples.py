"""Every example in gateway/openapi.json is valid against its schema, as OpenAPI 3.0 reads it.

Swagger UI shows the examples as what the API sends and accepts, and client generators and
mock servers replay them: an example its own schema refuses (a ticket without `position`)
teaches clients a shape the server never produces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.gateway.openapi_schemas import load_spec, schema_at, schema_errors

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Path = tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """An example value, where it is, and the schema it must match (JSON pointers)."""

    pointer: str
    value: Any
    schema: str | None  # None: nothing to check it against, itself a fault


def pointer(path: Path) -> str:
    """RFC 6901: `~` and `/` inside a segment are escaped."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def find_examples(spec: dict[str, Any]) -> list[Example]:
    """Every `example` and `examples` entry of the document, wherever OpenAPI 3.0 allows one.

    The walk follows the document's structure instead of looking for keys named "example",
    so a schema property of that name is not taken for an example. Objects given as a `$ref`
    are checked where they are defined (under `components`), once.
    """
    found: list[Example] = []
    components = spec.get("components", {})
    for path, item in spec.get("paths", {}).items():
        found += _path_item(spec, ("paths", path), item)
    for name, schema in components.get("schemas", {}).items():
        found += _schema(("components", "schemas", name), schema)
    for kind, walk in (
        ("parameters", _parameter),
        ("headers", _parameter),
        ("requestBodies", _request_body),
        ("responses", _response),
    ):
        for name, node in components.get(kind, {}).items():
            found += walk(spec, ("components", kind, name), node)
    for name, callback in components.get("callbacks", {}).items():
        found += _callback(spec, ("components", "callbacks", name), callback)
    return found


def _path_item(spec: dict[str, Any], at: Path, item: dict[str, Any]) -> list[Example]:
    found = _parameters(spec, (*at, "parameters"), item.get("parameters", []))
    for method in METHODS:
        if method in item:
            found += _operation(spec, (*at, method), item[method])
    return found


def _operation(spec: dict[str, Any], at: Path, operation: dict[str, Any]) -> list[Example]:
    found = _parameters(spec, (*at, "parameters"), operation.get("parameters", []))
    if "requestBody" in operation:
        found += _request_body(spec, (*at, "requestBody"), operation["requestBody"])
    for status, response in operation.get("responses", {}).items():
        found += _response(spec, (*at, "responses", status), response)
    for name, callback in operation.get("callbacks", {}).items():
        found += _callback(spec, (*at, "callbacks", name), callback)
    return found


def _callback(spec: dict[str, Any], at: Path, callback: dict[str, Any]) -> list[Example]:
    if "$ref" in callback:
        return []
    return [
        example
        for expression, item in callback.items()
        for example in _path_item(spec, (*at, expression), item)
    ]


def _parameters(spec: dict[str, Any], at: Path, parameters: list[Any]) -> list[Example]:
    return [
        example
        for i, parameter in enumerate(parameters)
        for example in _parameter(spec, (*at, str(i)), parameter)
    ]


def _parameter(spec: dict[str, Any], at: Path, node: dict[str, Any]) -> list[Example]:
    """A Parameter or a Header object: examples of its `schema`, or of its `content`."""
    if "$ref" in node:
        return []
    found = _content(spec, (*at, "content"), node.get("content", {}))
    if "schema" in node:
        found += _schema((*at, "schema"), node["schema"])
    return found + _examples(spec, at, node, (*at, "schema") if "schema" in node else None)


def _request_body(spec: dict[str, Any], at: Path, node: dict[str, Any]) -> list[Example]:
    if "$ref" in node:
        return []
    return _content(spec, (*at, "content"), node.get("content", {}))


def _response(spec: dict[str, Any], at: Path, node: dict[str, Any]) -> list[Example]:
    if "$ref" in node:
        return []
    found = _content(spec, (*at, "content"), node.get("content", {}))
    for name, header in node.get("headers", {}).items():
        found += _parameter(spec, (*at, "headers", name), header)
    return found


def _content(spec: dict[str, Any], at: Path, content: dict[str, Any]) -> list[Example]:
    found: list[Example] = []
    for media_type, media in content.items():
        here = (*at, media_type)
        if "schema" in media:
            found += _schema((*here, "schema"), media["schema"])
        found += _examples(spec, here, media, (*here, "schema") if "schema" in media else None)
        for name, encoding in media.get("encoding", {}).items():
            for header, node in encoding.get("headers", {}).items():
                found += _parameter(spec, (*here, "encoding", name, "headers", header), node)
    return found


def _examples(
    spec: dict[str, Any], at: Path, node: dict[str, Any], schema: Path | None
) -> list[Example]:
    """The `example` of a Media Type, Parameter or Header object, and each of its `examples`."""
    against = pointer(schema) if schema is not None else None
    found = []
    if "example" in node:
        found.append(Example(pointer((*at, "example")), node["example"], against))
    for name, entry in node.get("examples", {}).items():
        here = (*at, "examples", name)
        example = _resolve(spec, entry)
        if "value" in example:
            found.append(Example(pointer((*here, "value")), example["value"], against))
        else:
            # An externalValue (or nothing): there is no value here to check.
            found.append(Example(pointer(here), _NO_VALUE, against))
    return found


_NO_VALUE = object()


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (`#/components/...`) to the object they name."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _schema(at: Path, schema: Any) -> list[Example]:
    """Schema-level examples, in the schema and in every schema nested in it."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return []
    found = []
    if "example" in schema:
        found.append(Example(pointer((*at, "example")), schema["example"], pointer(at)))
    for keyword in ("items", "not", "additionalProperties"):
        found += _schema((*at, keyword), schema.get(keyword))
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(keyword, [])):
            found += _schema((*at, keyword, str(i)), sub)
    for name, sub in schema.get("properties", {}).items():
        found += _schema((*at, "properties", name), sub)
    return found


def problems(spec: dict[str, Any], example: Example) -> list[str]:
    """What is wrong with ``example``, each line naming its JSON pointer; empty if nothing."""
    if example.schema is None:
        return [f"{example.pointer}: no schema to check the example against"]
    if example.value is _NO_VALUE:
        return [f"{example.pointer}: no `value` to check (externalValue is not checked)"]
    return [
        f"{example.pointer}: {error.message} (at {error.json_path} of the example)"
        for error in schema_errors(spec, schema_at(example.schema), example.value)
    ]


def all_problems(spec: dict[str, Any]) -> list[str]:
    return [line for example in find_examples(spec) for line in problems(spec, example)]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


def test_every_example_matches_its_schema(spec):
    found = all_problems(spec)
    assert found == [], "examples their schema refuses:\n" + "\n".join(found)


def test_the_examples_of_the_document_are_found(spec):
    found = {example.pointer for example in find_examples(spec)}
    ticket = "/paths/~1api~1v1~1tickets~1{ticket_id}/get/responses/200/content/application~1json"
    assert {
        f"{ticket}/examples/confirmed/value",
        f"{ticket}/examples/rejected/value",
        "/components/schemas/Sale/example",
        "/paths/~1api~1v1~1auth~1login/post/requestBody/content/application~1json/example",
        "/components/responses/ServiceUnavailable/content/application~1json/example",
    } <= found
    assert len(found) >= 40


# A small document with an example in every place OpenAPI 3.0 allows one, each of them wrong
# in one way, plus right ones that a JSON Schema validator would get wrong (nullable).
UUID = {"type": "string", "format": "uuid"}
TINY: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": UUID,
                            "example": "not-a-uuid"}],
            "post": {
                "parameters": [
                    {"$ref": "#/components/parameters/Limit"},
                    {"name": "q", "in": "query", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["a"]}, "example": {}}}},
                ],
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"},
                    "examples": {
                        "good": {"value": {"name": "x", "note": None}},
                        "bad": {"value": {"name": 1}},
                        "shared": {"$ref": "#/components/examples/Nameless"},
                        "far": {"externalValue": "https://example.com/thing.json"},
                    },
                }}},
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"X-Count": {"schema": {"type": "integer"}, "example": "3"}},
                        "content": {"text/plain": {"example": "no schema"}},
                    },
                    "404": {"$ref": "#/components/responses/Missing"},
                },
            },
        }
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "note": {"type": "string", "nullable": True},
                    # A property named "example" is a schema, not an example.
                    "example": {"type": "integer", "example": "seven"},
                },
                "example": {"name": "x", "extra": True},
            }
        },
        "parameters": {"Limit": {"name": "limit", "in": "query",
                                 "schema": {"type": "integer", "minimum": 1}, "example": 0}},
        "headers": {"Id": {"schema": UUID, "examples": {"one": {"value": "123"}}}},
        "examples": {"Nameless": {"value": {}}},
        "responses": {"Missing": {"description": "no", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"code": {"type": "string"}}},
            "example": {"code": None},
        }}}},
    },
}  # fmt: skip


def test_every_kind_of_example_is_checked_and_named_by_its_pointer():
    failing = {line.split(": ", 1)[0] for line in all_problems(TINY)}
    thing = "/paths/~1things~1{id}"
    body = f"{thing}/post/requestBody/content/application~1json/examples"
    assert failing == {
        f"{thing}/parameters/0/example",
        f"{thing}/post/parameters/1/content/application~1json/example",
        f"{body}/bad/value",
        f"{body}/shared/value",
        f"{body}/far",
        f"{thing}/post/responses/200/headers/X-Count/example",
        f"{thing}/post/responses/200/content/text~1plain/example",
        "/components/schemas/Thing/example",
        "/components/schemas/Thing/properties/example/example",
        "/components/parameters/Limit/example",
        "/components/headers/Id/examples/one/value",
        "/components/responses/Missing/content/application~1json/example",
    }


def test_a_failure_says_what_is_wrong_and_where(spec):
    broken = json.loads(json.dumps(spec))
    sale = broken["components"]["schemas"]["Sale"]["example"]
    del sale["remaining"]
    sale["state"] = "paused"
    at_sale = [
        line for line in all_problems(broken) if line.startswith("/components/schemas/Sale/")
    ]
    assert at_sale == [
        "/components/schemas/Sale/example: 'paused' is not one of"
        " ['scheduled', 'waiting_room', 'active', 'sold_out', 'ended'] (at $.state of the example)",
        "/components/schemas/Sale/example: 'remaining' is a required property"
        " (at $ of the example)",
    ]
