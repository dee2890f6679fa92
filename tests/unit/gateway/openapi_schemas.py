"""Checking values against schemas of gateway/openapi.json, as OpenAPI 3.0 reads them.

OpenAPI 3.0 schemas are not JSON Schema (`nullable`, `format: int32`, no `null` type), so
values are checked with OAS30Validator; `$ref`s resolve inside the whole document.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource

# The document's URI in the registry: a `$ref` of a checked schema resolves against it.
SPEC_URI = "urn:flashsale:openapi"


def load_spec() -> dict[str, Any]:
    text = resources.files("gateway").joinpath("openapi.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def schema_errors(spec: dict[str, Any], schema: Any, value: Any) -> list[Any]:
    """Why ``value`` does not match ``schema`` (a schema of ``spec``, or inside it): sorted
    jsonschema ValidationErrors (jsonschema has no type stubs here)."""
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, Resource.opaque(spec))
    validator = OAS30Validator(
        _absolute(schema), registry=registry, format_checker=oas30_format_checker
    )
    return sorted(validator.iter_errors(value), key=str)


def schema_at(pointer: str) -> dict[str, Any]:
    """The schema at ``pointer`` (RFC 6901) of the document, to pass to schema_errors."""
    return {"$ref": f"{SPEC_URI}#{pointer}"}


def _absolute(schema: Any) -> Any:
    """``schema`` with its local `$ref`s (`#/components/...`) pointing into the document."""
    if isinstance(schema, dict):
        return {
            key: f"{SPEC_URI}{value}"
            if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else _absolute(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(item) for item in schema]
    return schema
