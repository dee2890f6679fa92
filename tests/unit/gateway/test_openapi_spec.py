"""gateway/openapi.json: a valid OpenAPI 3.0 document that matches the code it describes."""

from __future__ import annotations

import json
import re
import uuid
from importlib import resources
from typing import Any, get_args

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import OpenAPIV30SpecValidator
from pydantic import BaseModel

from auth_service.domain import Credentials, LoginRequest, username_problem
from auth_service.entrypoints import http as auth_http
from auth_service.settings import AuthSettings
from gateway.app import create_app
from gateway.domain import PurchaseRequest, TicketStatus, TicketView
from gateway.entrypoints import docs
from gateway.settings import GatewaySettings
from inventory_service.domain import NewSale, SaleRequest
from inventory_service.entrypoints import http as inventory_http
from order_service.adapters.postgres_report import TIMELINE_COLUMNS
from order_service.entrypoints import http as order_http
from order_service.entrypoints.http import OrdersQuery, PaymentRequest
from shared.contracts.errors import BadRequest
from shared.contracts.idempotency import idempotency_key
from shared.contracts.messages import RejectReason
from shared.contracts.products import Money, NewProduct, ProductView
from shared.contracts.sales import SaleState, SaleView
from shared.runtime.service import MAX_BODY_BYTES

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# The gateway forwards everything under these prefixes; the spec names the concrete paths.
PROXIES = {
    "/api/v1/auth/{tail}": "/api/v1/auth/",
    "/api/v1/admin/{tail}": "/api/v1/admin/",
    "/api/v1/orders/{tail}": "/api/v1/orders/",
}
# Paths the gateway forwards to another service, reading any request body to send it on, and
# the service each goes to; the longest prefix that matches wins (gateway/entrypoints/http.py
# sends the sale report to the order service, not through the admin catch-all).
FORWARDED = {
    "/api/v1/auth/": "auth",
    "/api/v1/admin/": "inventory",
    "/api/v1/admin/sales/{sale_id}/report": "order",
    "/api/v1/orders": "order",
    "/api/v1/products/": "inventory",
    "/api/v1/payments/": "order",
}
# Operations a sale's proof of work guards (gateway/pow.py): 403 pow_invalid.
POW_GATED = {"/api/v1/sales/{sale_id}/purchases"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    text = resources.files("gateway").joinpath("openapi.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def gateway_app() -> web.Application:
    """The real gateway app, never started: cleanup contexts (connections) run only on start."""
    app = create_app(GatewaySettings())
    if not any(r.canonical == "/api/openapi.json" for r in app.router.resources()):
        app.add_routes(docs.routes)  # until gateway/app.py wires them itself
    return app


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(path template, method) of every route; HEAD only where aiohttp did not add it for GET."""
    found = set()
    for resource in app.router.resources():
        methods = {route.method for route in resource}
        if hdrs.METH_GET in methods:
            methods.discard(hdrs.METH_HEAD)
        found |= {(resource.canonical, method) for method in methods}
    return found


def ecma_search(pattern: str, value: str) -> bool:
    """``pattern`` as JSON Schema reads it: its ``$`` (ECMA 262) never matches before a newline."""
    return re.search(re.sub(r"\$$", r"\\Z", pattern), value) is not None


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(spec["components"]["schemas"][name])


def resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def responses(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (path, method, status, resolve(spec, response))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status, response in operation["responses"].items()
    ]


def test_the_document_is_valid_openapi_3_0(spec):
    assert spec["openapi"] == "3.0.3"
    OpenAPIV30SpecValidator(spec).validate()


def test_every_operation_is_under_a_declared_tag(spec):
    declared = {tag["name"] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert set(operation["tags"]) <= declared, f"{method} {path}"


REQUEST_ID_PARAMETER = {"$ref": "#/components/parameters/RequestId"}
REQUEST_ID_HEADER = {"$ref": "#/components/headers/X-Request-ID"}


def test_every_operation_takes_a_request_id_and_every_answer_names_it(spec):
    # One component each, referenced: the rule is written once, not once per operation.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            assert REQUEST_ID_PARAMETER in parameters, f"{method} {path}"
            for status, response in operation["responses"].items():
                headers = resolve(spec, response).get("headers", {})
                assert headers.get("X-Request-ID") == REQUEST_ID_HEADER, f"{method} {path} {status}"


def test_the_request_id_is_optional_and_always_answered(spec):
    parameter = spec["components"]["parameters"]["RequestId"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "X-Request-ID",
        "header",
        False,
    )
    # A malformed id is replaced, never refused: the request schema admits any string.
    assert parameter["schema"] == {"type": "string"}
    header = spec["components"]["headers"]["X-Request-ID"]
    assert header["required"] is True
    # The id sent back has the form of an Idempotency-Key (1-128 visible ASCII characters),
    # whose rule is checked against the code below.
    assert header["schema"] == spec["components"]["parameters"]["IdempotencyKey"]["schema"]


def test_login_documents_its_throttle_and_its_shedding(spec):
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    for status in ("429", "503"):
        response = resolve(spec, login["responses"][status])
        assert resolve(spec, response["headers"]["Retry-After"])["required"] is True, status
    defaults = {name: field.default for name, field in AuthSettings.model_fields.items()}
    described = login["description"]
    window = defaults["login_failure_window_seconds"]
    assert f"fixed windows ({window // 60} minutes by default)" in described
    assert f"per client address ({defaults['login_max_failures_per_client']} by default)" in (
        described
    )
    assert f"per account from one client ({defaults['login_max_failures_per_user']})" in described
    assert f"from all clients together ({defaults['login_max_failures_per_account']})" in described
    assert f"too long ({defaults['login_max_wait_seconds']:g} s by default)" in described


def test_every_route_of_the_gateway_is_documented(spec):
    documented = operations(spec)
    own = {(path, m) for path, m in app_routes(gateway_app()) if m != hdrs.METH_ANY}
    assert own - documented == set()


async def test_every_documented_operation_is_served(spec):
    app = gateway_app()
    own = app_routes(app)
    catch_alls = {path for path, method in own if method == hdrs.METH_ANY}
    assert catch_alls == set(PROXIES), "a new catch-all route needs its paths in the spec"
    for path, method in sorted(operations(spec)):
        proxy = next((p for p, prefix in PROXIES.items() if path.startswith(prefix)), None)
        if proxy is None:
            assert (path, method) in own, f"{method} {path} is documented but not served"
            continue
        match = await app.router.resolve(make_mocked_request(method, concrete(path), app=app))
        assert match.http_exception is None, f"{method} {path}"
        assert match.route.resource is not None
        # A route of the gateway's own under a proxied prefix (the sale report, which goes to
        # another service than the catch-all's) must be the one that takes its requests.
        expected = path if (path, method) in own else proxy
        assert match.route.resource.canonical == expected, f"{method} {path}"


def service_of(path: str) -> str | None:
    """The service the gateway forwards ``path`` to; None if it serves the path itself."""
    prefixes = [prefix for prefix in FORWARDED if path.startswith(prefix)]
    return FORWARDED[max(prefixes, key=len)] if prefixes else None


def test_forwarded_operations_are_exactly_the_services_routes(spec):
    # Each with the service that serves it: a route of a service the gateway does not forward
    # its path to is unreachable, and a documented operation only that service has fails.
    by_service = {
        "auth": auth_http.routes(),
        "inventory": inventory_http.routes,
        "order": order_http.routes,
    }
    served = {
        (route.path, route.method, service)
        for service, routes in by_service.items()
        for route in routes
        if isinstance(route, web.RouteDef) and service_of(route.path) is not None
    }
    assert {
        (path, method, service_of(path))
        for path, method in operations(spec)
        if service_of(path) is not None
    } == served


def test_every_error_has_the_error_body_and_its_headers(spec):
    error_schemas = {"#/components/schemas/Error", "#/components/schemas/ValidationError"}
    for path, method, status, response in responses(spec):
        where = f"{method} {path} {status}"
        if int(status) < 400:
            continue
        media = response["content"]["application/json"]
        if (path, status) != ("/readyz", "503"):
            assert media["schema"]["$ref"] in error_schemas, where
        headers = response.get("headers", {})
        if status in ("503", "429"):
            assert resolve(spec, headers["Retry-After"])["required"] is True, where
        if status == "401":
            assert resolve(spec, headers["WWW-Authenticate"])["required"] is True, where


def test_secured_operations_document_their_failures(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            secured = operation.get("security", spec.get("security", [])) != []
            codes = set(operation["responses"])
            where = f"{method} {path}"
            if secured:
                assert {"401", "503"} <= codes, where
            # 403: an admin route with a user's token, or a purchase's proof of work.
            forbidding = path.startswith("/api/v1/admin/") or path in POW_GATED
            assert ("403" in codes) == forbidding, where
            if "requestBody" in operation or service_of(path) is not None:
                assert "413" in codes, where


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("RegisterRequest", Credentials),
        ("LoginRequest", LoginRequest),
        ("NewSale", SaleRequest),
        ("PurchaseRequest", PurchaseRequest),
        ("NewProduct", NewProduct),
        ("PaymentRequest", PaymentRequest),
        ("Money", Money),
    ],
)
def test_request_bodies_match_the_models(spec, name, model: type[BaseModel]):
    body = schema(spec, name)
    assert set(body["properties"]) == set(model.model_fields)
    assert set(body.get("required", [])) == {
        field for field, info in model.model_fields.items() if info.is_required()
    }
    forbid = model.model_config.get("extra") == "forbid"
    assert body.get("additionalProperties", True) is (not forbid)


@pytest.mark.parametrize(
    ("name", "model"), [("Sale", SaleView), ("Ticket", TicketView), ("Product", ProductView)]
)
def test_response_bodies_match_the_models(spec, name, model: type[BaseModel]):
    body = schema(spec, name)
    # model_dump_json writes every field, None included.
    assert set(body["properties"]) == set(body["required"]) == set(model.model_fields)


def test_enums_match_the_code(spec):
    assert schema(spec, "Sale")["properties"]["state"]["enum"] == list(get_args(SaleState))
    assert schema(spec, "TicketStatus")["enum"] == list(get_args(TicketStatus))
    reasons = schema(spec, "Ticket")["properties"]["reason"]["enum"]
    assert reasons == [*get_args(RejectReason), None]


def test_the_report_timeline_has_the_columns_of_the_code(spec):
    second = schema(spec, "SaleReport")["properties"]["timeline"]["items"]
    assert list(second["properties"]) == second["required"] == TIMELINE_COLUMNS
    ok = spec["paths"]["/api/v1/admin/sales/{sale_id}/report"]["get"]["responses"]["200"]
    rows = ok["content"]["text/csv"]["example"].splitlines()
    assert rows[0] == ",".join(TIMELINE_COLUMNS)
    timeline = ok["content"]["application/json"]["example"]["timeline"]
    assert rows[1:] == [",".join(str(entry[c]) for c in TIMELINE_COLUMNS) for entry in timeline]


def test_new_sale_bounds_match_the_model(spec):
    documented = schema(spec, "NewSale")["properties"]
    generated = NewSale.model_json_schema()["properties"]
    for field in ("name", "stock", "per_user_limit"):
        for key in ("minLength", "maxLength", "minimum", "maximum", "default"):
            assert documented[field].get(key) == generated[field].get(key), (field, key)


def test_limit_bounds_match_the_order_service(spec):
    documented = spec["components"]["parameters"]["Limit"]["schema"]
    generated = OrdersQuery.model_json_schema()["properties"]["limit"]
    for key in ("minimum", "maximum", "default"):
        assert documented[key] == generated[key], key


def test_the_body_limit_is_the_servers(spec):
    description = spec["components"]["responses"]["PayloadTooLarge"]["description"]
    assert f"{MAX_BODY_BYTES:,}" in description


@pytest.mark.parametrize(
    "name", ["bob", "a" * 64, "A.b_c-9", "ab", "a" * 65, "al ice", "álvaro", "bob\n", ""]
)
def test_username_rules_match(spec, name):
    rules = schema(spec, "RegisterRequest")["properties"]["username"]
    documented = rules["minLength"] <= len(name) <= rules["maxLength"] and ecma_search(
        rules["pattern"], name
    )
    assert documented == (username_problem(name) is None)


@pytest.mark.parametrize(
    "key", ["k", "~" * 128, "order-42:retry", "a" * 129, "with space", "tab\t", "é", ""]
)
def test_idempotency_key_rules_match(spec, key):
    rules = spec["components"]["parameters"]["IdempotencyKey"]["schema"]
    documented = rules["minLength"] <= len(key) <= rules["maxLength"] and ecma_search(
        rules["pattern"], key
    )
    try:
        idempotency_key(key)
    except BadRequest:
        accepted = False
    else:
        accepted = True
    assert documented == accepted
