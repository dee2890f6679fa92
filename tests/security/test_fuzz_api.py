"""Schemathesis against the running stack, driven by the API's own OpenAPI document.

Every operation is fuzzed (the examples, coverage and fuzzing phases) with every built-in check
schemathesis runs by default: no 5xx, status codes, content types, headers and bodies as the
document says, valid data accepted, invalid data refused, authentication enforced, 405 with
Allow for methods a path does not have. Deterministic (fixed seed, no example database) and
bounded (MAX_EXAMPLES per operation and phase).

The schema is loaded at import time from the file the gateway serves; the first test proves the
running gateway serves exactly that file. (schemathesis.pytest.from_fixture, which would load it
from the running stack, fails on pytest 9: it sets Function._nodeid, which pytest 9 removed.)
One stack serves the whole module, so that each operation does not start its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
import schemathesis
from pydantic import TypeAdapter, ValidationError
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from shared.contracts.topology import Names, delete_topology
from tests.conftest import TEST_PARTITIONS
from tests.support.api import Api
from tests.support.processes import ARTIFACTS, ROOT, Stack, service_env
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e

SEED = 20261127
MAX_EXAMPLES = 100
SPEC = ROOT / "gateway" / "openapi.json"

schema = schemathesis.openapi.from_path(
    SPEC,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Generating data can be slow on a busy two-core machine running four services;
            # that is Hypothesis' health check about the generator, not about the API.
            "suppress-health-check": ["too_slow"],
            # Event streams stay open: read the first event (a snapshot, sent at once) and stop.
            "max-stream-events": 1,
            # Nothing here should take long; a hang fails the case instead of the whole run.
            "request-timeout": 10,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    ),
)


# Cases are generated partly at collection time (the coverage phase), before any stack runs,
# so no real token exists yet: a provider marks the cases that carry credentials with this
# placeholder, and fuzz() swaps in the token of the running stack. Schemathesis knows the
# credentials are there on purpose, so it leaves them out of the cases that test a missing or
# invalid Authorization (and probes that the API refuses a request without them).
TOKEN_PLACEHOLDER = "Bearer placeholder-for-the-running-stack's-token"


# refresh_interval=None: no caching, the answer depends on the operation.
@schema.auth(refresh_interval=None)
class PlaceholderAuth:
    def get(self, case, ctx) -> str | None:
        return TOKEN_PLACEHOLDER if needs_token(case) else None

    def set(self, case, data: str, ctx) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


def needs_token(case) -> bool:
    return bool(case.operation.definition.raw.get("security"))


@dataclass(frozen=True)
class Target:
    base_url: str
    user_token: str
    admin_token: str
    ids: dict[str, str]  # path parameter -> the id of something that exists (the user's)


@pytest.fixture(scope="module")
def target(servers, template_database, tmp_path_factory) -> Iterator[Target]:
    """The four services for this module, on their own database, Redis keys and queues."""
    database = f"fs_test_{secrets.token_hex(5)}"
    namespace = f"t{secrets.token_hex(5)}"
    asyncio.run(_create_database(servers.postgres_url, database, template_database))
    env = service_env(
        amqp_url=servers.amqp_url,
        database_url=servers.database_url(database),
        redis_url=servers.redis_url,
        namespace=namespace,
        partitions=TEST_PARTITIONS,
        key_file=tmp_path_factory.mktemp("fuzz") / "jwt.pem",
        extra={
            "ADMIN_USERNAME": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            # Every fuzzed login comes from this one client: with the default limit (20) the
            # client throttle would answer 429 to nearly all of them, and login would go
            # unfuzzed. The throttle has its own tests (test_login_throttling.py).
            "LOGIN_MAX_FAILURES_PER_CLIENT": "1000000",
        },
    )
    stack = Stack.build(env, ARTIFACTS / "test_fuzz_api")
    try:
        asyncio.run(stack.start())
        yield asyncio.run(_tokens(stack.gateway.url))
    finally:
        stack.stop()
        asyncio.run(_clean_up(servers, database, namespace))


async def _create_database(server_url: str, name: str, template: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


async def _tokens(base_url: str) -> Target:
    async with aiohttp.ClientSession() as session:
        api = Api(session, base_url)
        user, admin = await api.user("fuzzer"), await api.login(*ADMIN)
        sale = await api.create_sale(admin, stock=1_000_000, per_user_limit=1_000_000)
        placed = await api.purchase(user, sale["sale_id"])
        assert placed.status == 202, placed
        won = await api.wait_final(user, placed.body["ticket_id"])
        ids = {
            "sale_id": sale["sale_id"],
            "ticket_id": placed.body["ticket_id"],
            "order_id": won["order_id"],
            "product_id": sale["product"]["product_id"],
        }
        return Target(base_url, user, admin, ids)


async def _clean_up(servers, database: str, namespace: str) -> None:
    conn = await asyncpg.connect(servers.postgres_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(servers.redis_url)
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    connection = await aio_pika.connect(servers.amqp_url)
    async with connection.channel() as channel:
        await delete_topology(channel, Names(namespace, TEST_PARTITIONS))
    await connection.close()


def test_the_running_gateway_serves_the_fuzzed_document(target):
    async def served() -> Any:
        url = f"{target.base_url}/api/openapi.json"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert resp.status == 200
            return await resp.json()

    assert asyncio.run(served()) == json.loads(SPEC.read_text())


# -- what the document cannot say -------------------------------------------------------------
# Rules the server enforces that OpenAPI 3.0 cannot express. Where one of them decides a case
# differently from the document, that case is not held to the document's verdict: the check
# that carries the verdict (valid data accepted / invalid data refused) is left out for that
# case only, and the server's own answer is asserted instead. Every other check still runs.
# (The third known deviation, 429 from the login throttle, needs no exception: the document
# lists it, and the fuzzing stack raises LOGIN_MAX_FAILURES_PER_CLIENT so that it stays rare.)


@dataclass(frozen=True)
class Deviation:
    rule: str
    expected: tuple[int, ...]  # the statuses the server answers instead
    instead_of: Any  # the check whose verdict the rule overturns


_USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,64}")


def _register(case) -> Deviation | None:
    """A password's limits are 8-72 bytes in UTF-8; the document can only count characters."""
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        return None
    password = body["password"]
    by_chars = 8 <= len(password) <= 72
    by_bytes = 8 <= len(password.encode("utf-8", "surrogatepass")) <= 72
    rest_is_valid = (
        set(body) == {"username", "password"}
        and isinstance(body["username"], str)
        and _USERNAME.fullmatch(body["username"]) is not None
    )
    if by_chars == by_bytes or not rest_is_valid:
        return None  # the document and the server agree on this body
    if by_bytes:  # e.g. 7 characters but 9 bytes: accepted (or the name is taken)
        return Deviation("password 8-72 bytes", (201, 409), negative_data_rejection)
    return Deviation("password 8-72 bytes", (422,), positive_data_acceptance)


_DATETIME = TypeAdapter(datetime)


def _sale_rule(body: dict[str, Any]) -> str | None:
    try:
        # Parsed as the server parses it (pydantic, strict JSON).
        starts = _DATETIME.validate_json(json.dumps(body["starts_at"]), strict=True)
        ends = _DATETIME.validate_json(json.dumps(body["ends_at"]), strict=True)
    except (KeyError, ValidationError):
        return "a time pydantic cannot represent (RFC 3339 allows e.g. second 60, year 0)"
    if starts.tzinfo is None or ends.tzinfo is None:
        return "times need an offset"
    if ends <= starts:
        return "ends_at must be after starts_at"
    if starts < datetime(1970, 1, 1, tzinfo=UTC) or ends > datetime(9999, 1, 1, tzinfo=UTC):
        return "times lie between 1970-01-01 and 9999-01-01 UTC (Postgres and epoch ms)"
    if "\x00" in str(body.get("name", "")):
        return "Postgres text cannot hold NUL"
    return None


# What the fuzzed sales may sell: the one product the module's stack has (see _tokens and
# name_real_things); any other product_id names nothing.
REAL_PRODUCT: dict[str, str] = {}


def _create_sale(case) -> Deviation | None:
    """Rules across fields and of the storage: the server is stricter than the document."""
    meta = case.meta
    if not isinstance(case.body, dict) or meta is None or not meta.generation.mode.is_positive:
        return None
    rule = _sale_rule(case.body)
    if rule is None and case.body.get("product_id") != REAL_PRODUCT.get("product_id"):
        rule = "product_id must name a product that exists"
    price = case.body.get("price")
    if rule is None and isinstance(price, dict) and price.get("currency") != "EUR":
        rule = "the sale price is in its product's currency (EUR here)"
    return Deviation(rule, (422,), positive_data_acceptance) if rule else None


def _webhook(case) -> Deviation | None:
    """Only the provider can sign: Payment-Signature is an HMAC of the exact body with the
    provider's secret, and the event must name a payment of ours. A generated one is refused
    (400) and changes nothing, which tests/security/test_payment_webhooks.py checks in detail."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    return Deviation("signed by the provider", (400,), positive_data_acceptance)


DEVIATIONS = {"register": _register, "createSale": _create_sale, "receivePaymentWebhook": _webhook}


def deviation(case) -> Deviation | None:
    """How the server rightly departs from the document's verdict on ``case``, if it does."""
    meta = case.meta
    if meta is None or any(
        meta.is_negative_at(location) for location in meta.components if location != "body"
    ):
        return None  # negative elsewhere (e.g. no token): that decides the answer
    rule = DEVIATIONS.get(case.operation.definition.raw.get("operationId", ""))
    return rule(case) if rule else None


_turns: dict[str, itertools.count[int]] = {}


def name_real_things(case, target: Target) -> None:
    """Every other valid case names a sale / ticket that exists instead of a random UUID.

    Random UUIDs only ever find nothing (404): this way the success paths (202 with a ticket,
    200 with a sale, a ticket or stats, stock added) are fuzzed too, with generated bodies and
    headers. Invalid cases keep their generated ids, which is what they are about.
    """
    meta = case.meta
    if not case.path_parameters or meta is None or not meta.generation.mode.is_positive:
        return
    turns = _turns.setdefault(case.operation.label, itertools.count())
    if next(turns) % 2 == 0:
        case.path_parameters = {
            name: target.ids.get(name, value) for name, value in case.path_parameters.items()
        }


def sell_a_real_product(case, target: Target) -> None:
    """Every other valid sale sells the product that exists, so sales get created too."""
    meta = case.meta
    if case.operation.definition.raw.get("operationId") != "createSale" or meta is None:
        return
    REAL_PRODUCT["product_id"] = target.ids["product_id"]
    turns = _turns.setdefault("createSale body", itertools.count())
    if meta.generation.mode.is_positive and isinstance(case.body, dict) and next(turns) % 2 == 0:
        case.body = {**case.body, "product_id": target.ids["product_id"]}


def fuzz(case, target: Target, token: str) -> None:
    name_real_things(case, target)
    sell_a_real_product(case, target)
    if case.headers and case.headers.get("Authorization") == TOKEN_PLACEHOLDER:
        case.headers["Authorization"] = f"Bearer {token}"
    departs = deviation(case)
    response = case.call_and_validate(
        base_url=target.base_url,
        excluded_checks=[departs.instead_of] if departs else None,
    )
    if departs:
        assert response.status_code in departs.expected, (departs, response.text)


# The event streams are documented per event (event, id, data), which is how schemathesis
# reads the schema of a text/event-stream response (as OpenAPI 3.2's itemSchema does).
STREAMS = ["streamSale", "streamTicket"]


@schema.exclude(tag="admin").exclude(operation_id=STREAMS).parametrize()
def test_public_and_user_operations(case, target):
    fuzz(case, target, target.user_token)


@schema.include(tag="admin").parametrize()
def test_admin_operations(case, target):
    fuzz(case, target, target.admin_token)


@schema.include(operation_id=STREAMS).parametrize()
def test_event_streams(case, target):
    fuzz(case, target, target.user_token)


def test_event_streams_match_their_document(target):
    """A real stream of each kind, validated against the document (not only fuzzed cases)."""
    streams = [
        ("/api/v1/sales/{sale_id}/events", {"sale_id": target.ids["sale_id"]}),
        ("/api/v1/tickets/{ticket_id}/events", {"ticket_id": target.ids["ticket_id"]}),
    ]
    for path, ids in streams:
        case = schema[path]["GET"].Case(
            path_parameters=ids, headers={"Authorization": f"Bearer {target.user_token}"}
        )
        response = case.call(base_url=target.base_url)
        assert response.status_code == 200, response.text
        case.validate_response(response, checks=[response_schema_conformance])
