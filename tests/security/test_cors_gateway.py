"""The running gateway and CORS: closed by default; open to exactly the configured origins."""

from __future__ import annotations

import pytest

from tests.support.api import Api

pytestmark = pytest.mark.e2e

SHOP = "https://shop.example"
FOREIGN = "https://evil.example"

# (method, path) a page would call; each must be closed to a foreign origin.
CALLS = [
    ("GET", "/api/v1/sales"),
    ("GET", "/api/v1/orders"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/admin/sales"),
    ("GET", "/api/openapi.json"),
    ("GET", "/no/such/path"),
    ("GET", "/api/v1/sales/00000000-0000-0000-0000-000000000000/events"),
]


@pytest.fixture
def cors_origins() -> str | None:
    """CORS_ALLOWED_ORIGINS for the stack; None leaves it unset (the default)."""
    return None


@pytest.fixture
def stack_env(stack_env, cors_origins):
    if cors_origins is None:
        return stack_env
    return {**stack_env, "CORS_ALLOWED_ORIGINS": cors_origins}


async def answer(api: Api, method: str, path: str, headers: dict[str, str]):
    async with api.session.request(method, api.base + path, headers=headers) as resp:
        await resp.read()
        return resp.status, {k: v for k, v in resp.headers.items()}


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def preflight(origin: str, method: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def closed_problems(api: Api, origin: str) -> dict[str, object]:
    """What is not closed to ``origin``, by call."""
    problems: dict[str, object] = {}
    for method, path in CALLS:
        _, headers = await answer(api, method, path, {"Origin": origin})
        if cors_headers(headers):
            problems[f"{method} {path}"] = cors_headers(headers)
        status, headers = await answer(api, "OPTIONS", path, preflight(origin, method))
        # A preflight is allowed only by a 2xx naming the origin: neither may be there.
        if cors_headers(headers) or 200 <= status < 300:
            problems[f"preflight {method} {path}"] = (status, cors_headers(headers))
    return problems


async def test_default_gateway_is_closed_to_foreign_origins(api):
    assert await closed_problems(api, FOREIGN) == {}
    assert await closed_problems(api, "null") == {}


@pytest.mark.parametrize("cors_origins", [f"{SHOP}, http://localhost:3000"])
async def test_configured_origins_are_allowed_and_only_them(api, admin_token):
    status, headers = await answer(
        api, "OPTIONS", "/api/v1/sales/x/purchases", preflight(SHOP, "POST")
    )
    assert status == 204
    assert cors_headers(headers) == {
        "Access-Control-Allow-Origin": SHOP,
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": (
            "Authorization, Content-Type, Idempotency-Key, X-PoW-Solution, X-Request-ID"
        ),
        "Access-Control-Max-Age": "600",
    }
    for method, path in CALLS:
        _, headers = await answer(api, method, path, {"Origin": SHOP})
        assert headers.get("Access-Control-Allow-Origin") == SHOP, (method, path, headers)
        assert "Origin" in headers.get("Vary", ""), (method, path, headers)
        assert "Access-Control-Allow-Credentials" not in headers
    # A server-sent event stream sends its headers from inside the handler.
    sale = await api.create_sale(admin_token, stock=1)
    events = f"{api.base}/api/v1/sales/{sale['sale_id']}/events"
    for origin, allowed in ((SHOP, SHOP), (FOREIGN, None)):
        async with api.session.get(events, headers={"Origin": origin}) as resp:
            assert resp.status == 200
            assert resp.headers.get("Access-Control-Allow-Origin") == allowed
    assert await closed_problems(api, FOREIGN) == {}
