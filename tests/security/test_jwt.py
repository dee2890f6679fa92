"""Forged, tampered and stale tokens are refused with 401 everywhere; users get 403 on admin routes.

Every forgery is checked against the running gateway and, for depth, against the service behind
it. Tokens the test signs with the real key (and correct claims) are accepted first: that proves
each refusal below is about the one thing the forgery changed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from tests.security.forgery import (
    RealKey,
    claims,
    hs256,
    payload_of,
    segment,
    stranger_key,
    unsigned,
    with_payload,
    without,
)
from tests.security.helpers import error_problem
from tests.support.api import Api, Reply
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e

TOKEN_ERRORS = ("invalid_token", "token_expired", "missing_token")


async def real_key(api: Api, stack: Stack) -> RealKey:
    async with api.session.get(stack.auth.url + "/.well-known/jwks.json") as resp:
        assert resp.status == 200
        body = await resp.read()
    return RealKey.load(Path(stack.auth.env["JWT_PRIVATE_KEY_FILE"]), body)


def forgeries(key: RealKey, genuine: str, *, role: str) -> dict[str, str]:
    """Tokens that must all be refused, each wanting ``role``; ``genuine`` is a user's token."""
    good = claims(role=role)
    rs256 = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    now = int(time.time())
    genuine_claims = payload_of(genuine)
    return {
        # The verifier must never take the algorithm from the token.
        **{
            f"alg_{alg}": unsigned({"alg": alg, "typ": "JWT", "kid": key.kid}, good)
            for alg in ("none", "None", "NONE", "nOnE")
        },
        "alg_none_with_real_signature_kept": unsigned(
            {"alg": "none", "kid": key.kid}, good, b"x" * 256
        ),
        "rs256_without_signature": unsigned(rs256, good),
        "rs256_garbage_signature": unsigned(rs256, good, b"\x00" * 256),
        # Key confusion: the public key (every byte form of it) used as an HMAC secret.
        **{
            f"hs256_with_public_{form}": hs256(
                {"alg": "HS256", "typ": "JWT", "kid": key.kid}, good, secret
            )
            for form, secret in key.public_pems().items()
        },
        "hs384_with_public_pem": hs256(
            {"alg": "HS384", "kid": key.kid}, good, key.public_pems()["pem_spki"]
        ),
        # The real key, but another algorithm than the one pinned.
        "ps256_with_real_key": key.sign(good, alg="PS256"),
        "rs512_with_real_key": key.sign(good, alg="RS512"),
        # A genuine token with its claims edited and its signature kept.
        "tampered_role": with_payload(genuine, {**genuine_claims, "role": "admin"}),
        "tampered_sub": with_payload(genuine, {**genuine_claims, "sub": str(uuid.uuid4())}),
        "tampered_exp": with_payload(genuine, {**genuine_claims, "exp": now + 10**6}),
        "genuine_signature_on_other_header": segment({**rs256, "x": 1})
        + "."
        + genuine.split(".", 1)[1],
        # Signed with the real key, one claim wrong.
        "expired": key.sign({**good, "iat": now - 1000, "exp": now - 60}),
        "not_yet_valid": key.sign({**good, "nbf": now + 3600}),
        "wrong_iss": key.sign({**good, "iss": "someone-else"}),
        "wrong_aud": key.sign({**good, "aud": "someone-else"}),
        "aud_list_without_ours": key.sign({**good, "aud": ["a", "b"]}),
        "missing_exp": key.sign(without(good, "exp")),
        "missing_sub": key.sign(without(good, "sub")),
        "missing_iat": key.sign(without(good, "iat")),
        "missing_iss": key.sign(without(good, "iss")),
        "missing_aud": key.sign(without(good, "aud")),
        "sub_not_a_uuid": key.sign({**good, "sub": "admin"}),
        "unknown_role": key.sign({**good, "role": "superuser"}),
        # Key ids: unknown, missing, or a stranger's key under the real kid.
        "unknown_kid": key.sign(good, kid="no-such-key"),
        "kid_path_traversal": key.sign(good, kid="../../../../dev/null"),
        "no_kid": _without_kid(key, good),
        "stranger_key_real_kid": _stranger(good, kid=key.kid),
        "stranger_key_own_kid": _stranger(good, kid="stranger"),
        # The attacker's key carried in the token itself (jwk / jku / x5u must be ignored).
        "embedded_jwk_real_kid": _embedded_jwk(good, kid=key.kid),
        "jku_header": _stranger(good, kid=key.kid, jku="http://127.0.0.1:9/jwks.json"),
        "x5u_header": _stranger(good, kid=key.kid, x5u="http://127.0.0.1:9/cert.pem"),
        # Not a JWT at all.
        "garbage": "garbage",
        "two_segments": genuine.rsplit(".", 1)[0],
        "four_segments": genuine + ".AAAA",
        "empty_segments": "..",
    }


def _without_kid(key: RealKey, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, key.private_key, algorithm="RS256")


def _stranger(payload: dict[str, Any], *, kid: str, **extra_headers: str) -> str:
    return jwt.encode(
        payload, stranger_key(), algorithm="RS256", headers={"kid": kid, **extra_headers}
    )


def _embedded_jwk(payload: dict[str, Any], *, kid: str) -> str:
    attacker = stranger_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    return jwt.encode(payload, attacker, algorithm="RS256", headers={"kid": kid, "jwk": jwk})


def refusal_problem(reply: Reply) -> str | None:
    """Why ``reply`` is not a proper 401 refusal, or None."""
    problem = error_problem(reply, 401, *TOKEN_ERRORS)
    if problem is None and not reply.headers.get("WWW-Authenticate", "").startswith("Bearer"):
        problem = f"no WWW-Authenticate: Bearer header: {reply.headers}"
    return problem


async def call_all(api: Api, requests: dict[str, tuple[str, str, str, Any]]) -> dict[str, Reply]:
    """name -> reply for name -> (method, url, token, json body), all at once."""

    async def one(method: str, url: str, token: str, body: Any) -> Reply:
        async with api.session.request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            payload = await resp.json(content_type=None) if await resp.read() else None
            return Reply(resp.status, payload, dict(resp.headers))

    replies = await asyncio.gather(*(one(*r) for r in requests.values()))
    return dict(zip(requests, replies, strict=True))


def new_sale_body(product_id: str) -> dict[str, Any]:
    starts = datetime.now(UTC)
    return {
        "name": "forged",
        "stock": 1,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "product_id": product_id,
    }


async def test_forged_tokens_are_refused_on_user_routes(api, stack):
    registered = await api.register("alice", "correct-horse")
    alice_id = uuid.UUID(registered.body["user_id"])
    genuine = await api.login("alice", "correct-horse")
    key = await real_key(api, stack)
    ticket = f"{api.base}/api/v1/tickets/{uuid.uuid4()}"
    orders_via_gateway = f"{api.base}/api/v1/orders"
    orders_direct = f"{stack.order.url}/api/v1/orders"

    # Controls: the genuine token, and one the test signs with the real key, are accepted.
    minted = key.sign(claims(sub=alice_id))
    controls = await call_all(
        api,
        {
            f"{name} {where}": ("GET", url, token, None)
            for name, token in (("genuine", genuine), ("minted", minted))
            for where, url in (("ticket", ticket), ("orders", orders_via_gateway))
        },
    )
    assert {name: r.status for name, r in controls.items()} == {
        "genuine ticket": 404,
        "genuine orders": 200,
        "minted ticket": 404,
        "minted orders": 200,
    }

    requests = {
        f"{name} @ {where}": ("GET", url, token, None)
        for name, token in forgeries(key, genuine, role="user").items()
        for where, url in (
            ("gateway ticket", ticket),
            ("gateway orders", orders_via_gateway),
            ("order service", orders_direct),
        )
    }
    replies = await call_all(api, requests)
    problems = {name: refusal_problem(r) for name, r in replies.items()}
    assert {name: p for name, p in problems.items() if p} == {}


async def test_forged_admin_tokens_are_refused_and_users_get_403(api, stack, admin_token):
    genuine = await api.user("alice")
    key = await real_key(api, stack)
    sale = await api.create_sale(admin_token, stock=3)
    product_id = sale["product"]["product_id"]
    create = f"{api.base}/api/v1/admin/sales"
    stats = f"{api.base}/api/v1/admin/sales/{sale['sale_id']}/stats"
    create_direct = f"{stack.inventory.url}/api/v1/admin/sales"

    # Control: an admin token the test signs with the real key does create a sale.
    minted = key.sign(claims(role="admin"))
    control = await call_all(
        api,
        {
            "create": ("POST", create, minted, new_sale_body(product_id)),
            "stats": ("GET", stats, minted, None),
        },
    )
    assert {n: r.status for n, r in control.items()} == {"create": 201, "stats": 200}

    # A valid user token is authenticated but not allowed: 403, with the error shape.
    as_user = await call_all(
        api,
        {
            "create": ("POST", create, genuine, new_sale_body(product_id)),
            "stats": ("GET", stats, genuine, None),
            "create direct": ("POST", create_direct, genuine, new_sale_body(product_id)),
            "unknown admin path": ("POST", f"{create}/{sale['sale_id']}/anything", genuine, {}),
        },
    )
    problems = {n: error_problem(r, 403, "forbidden") for n, r in as_user.items()}
    assert {n: p for n, p in problems.items() if p} == {}

    before = len((await api.call("GET", "/api/v1/sales")).body)
    requests = {
        f"{name} @ {where}": (method, url, token, body)
        for name, token in forgeries(key, genuine, role="admin").items()
        for where, method, url, body in (
            ("gateway create", "POST", create, new_sale_body(product_id)),
            ("gateway stats", "GET", stats, None),
            ("inventory create", "POST", create_direct, new_sale_body(product_id)),
        )
    }
    replies = await call_all(api, requests)
    problems = {name: refusal_problem(r) for name, r in replies.items()}
    assert {name: p for name, p in problems.items() if p} == {}
    # And not one forgery created a sale on the way.
    assert len((await api.call("GET", "/api/v1/sales")).body) == before


MALFORMED_AUTHORIZATION = {
    None: "missing_token",
    "": "missing_token",
    "Bearer": "invalid_token",
    "Bearer    ": "invalid_token",
    "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ=": "invalid_token",
    "Token abc": "invalid_token",
    "Bearer a b": "invalid_token",
    # Tokens whose header is not a JSON object: base64 garbage, a list, null, broken JSON.
    "Bearer abc": "invalid_token",
    "Bearer %%%.e30.c2ln": "invalid_token",
    "Bearer W10.e30.c2ln": "invalid_token",
    "Bearer bnVsbA.e30.c2ln": "invalid_token",
    "Bearer eyJhbGciOi.e30.c2ln": "invalid_token",
}


async def test_malformed_authorization_headers_are_401(api):
    problems = {}
    for authorization, code in MALFORMED_AUTHORIZATION.items():
        headers = {} if authorization is None else {"Authorization": authorization}
        async with api.session.get(f"{api.base}/api/v1/orders", headers=headers) as resp:
            reply = Reply(resp.status, await resp.json(content_type=None), dict(resp.headers))
        problems[authorization] = refusal_problem(reply) or error_problem(reply, 401, code)
    assert {a: p for a, p in problems.items() if p} == {}
