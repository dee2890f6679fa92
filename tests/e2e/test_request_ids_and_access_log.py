"""What operators read: one request id through every service and message, access logs, and
GET /version everywhere."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_env(stack_env):
    # DEBUG: the per-ticket lines of the consumers ("decided", "ticket final") are logged.
    return {**stack_env, "LOG_LEVEL": "DEBUG"}


def log_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def with_id(path: Path, request_id: str, *, expected: int = 1) -> list[dict]:
    """The lines naming ``request_id``, once ``expected`` are there (access lines are written
    every quarter second), or what there is after a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in log_lines(path) if line.get("request_id") == request_id]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_one_request_id_follows_a_purchase_through_every_service(stack, api, admin_token):
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=1)
    # Unique: the logs of a test's services are kept (and appended to) across runs.
    request_id = f"trace-purchase-{uuid.uuid4().hex}"
    reply = await api.call(
        "POST",
        f"/api/v1/sales/{sale['sale_id']}/purchases",
        token=alice,
        json={},
        headers={"X-Request-ID": request_id},
    )
    assert reply.status == 202, reply
    assert reply.headers["X-Request-ID"] == request_id
    ticket = reply.body["ticket_id"]
    assert (await api.wait_final(alice, ticket))["status"] == "confirmed"

    # The gateway's access line, the inventory service's decision and the order service's
    # final state all carry the id: it travelled in the AMQP headers of the intent batch and
    # of the decision batch.
    (access,) = [
        line
        for line in await with_id(stack.gateway.log_path, request_id)
        if line["msg"] == "request"
    ]
    assert access["logger"] == "access"
    assert access["method"] == "POST"
    assert access["route"] == "/api/v1/sales/{sale_id}/purchases"
    assert access["status"] == 202
    assert access["duration_ms"] > 0
    assert access["client"] == "127.0.0.1"
    decided = await with_id(stack.inventory.log_path, request_id)
    assert [(line["msg"], line["ticket_id"]) for line in decided] == [("decided", ticket)]
    final = await with_id(stack.order.log_path, request_id)
    assert [(line["msg"], line["ticket_id"]) for line in final] == [("ticket final", ticket)]


async def test_the_gateway_passes_the_id_to_the_services_it_calls(stack, api):
    request_id = f"trace-register-{uuid.uuid4().hex}"
    reply = await api.call(
        "POST",
        "/api/v1/auth/register",
        json={"username": "bob", "password": "correct-horse"},
        headers={"X-Request-ID": request_id},
    )
    assert reply.status == 201
    assert reply.headers["X-Request-ID"] == request_id
    (line,) = [
        line for line in await with_id(stack.auth.log_path, request_id) if line["msg"] == "request"
    ]
    assert (line["route"], line["status"]) == ("/api/v1/auth/register", 201)


async def test_every_answer_names_its_request_id(stack, api):
    # Made up by the gateway when the client sends none (or an unusable one), errors included.
    for path in ("/healthz", "/api/v1/sales", "/api/v1/tickets/not-a-uuid", "/nowhere"):
        reply = await api.call("GET", path, headers={"X-Request-ID": "bad id with spaces"})
        made = reply.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{24}", made), (path, made)


async def test_every_service_tells_its_version(stack, api):
    for service, process in (
        ("gateway", stack.gateway),
        ("auth_service", stack.auth),
        ("inventory_service", stack.inventory),
        ("order_service", stack.order),
    ):
        reply = await api.session.get(f"{process.url}/version")
        body = await reply.json()
        assert reply.status == 200
        assert body["service"] == service
        assert body["version"] == "1.0.0"
        assert body["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", body["commit"]), body
        assert datetime.fromisoformat(body["started_at"]).tzinfo is not None


class TestAccessLogOff:
    @pytest.fixture
    def stack_env(self, stack_env):
        return {**stack_env, "ACCESS_LOG": "false", "GIT_COMMIT": "0123abcd"}

    async def test_no_access_lines_and_the_configured_commit(self, stack, api):
        for _ in range(3):
            assert (await api.call("GET", "/api/v1/sales")).status == 200
        await asyncio.sleep(1)  # longer than access lines wait to be written, were they on
        reply = await api.session.get(f"{stack.gateway.url}/version")
        assert (await reply.json())["commit"] == "0123abcd"
        for process in stack.services:
            assert not [
                line for line in log_lines(process.log_path) if line["logger"] == "access"
            ], process.module
