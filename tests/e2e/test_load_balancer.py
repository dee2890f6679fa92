"""The load balancer (deploy/nginx/default.conf.template) in front of gateways.

Two kinds of upstream. The real stack, behind a private nginx: health, a purchase, event
streams, the body limit and a gateway that is down. And stand-in replicas on 127.0.0.2,
127.0.0.3, ... (one port, as replicas share one in compose) that a small DNS server names,
as Docker's DNS names the replicas of a service: requests spread over every replica, a new
one gets requests within seconds, one that is gone is skipped; they also report the headers
nginx sent and stream events without the gateway's X-Accel-Buffering, so that the template's
own settings are what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from tests.support.api import Api
from tests.support.nginx import private_nginx
from tests.support.processes import ARTIFACTS, free_port
from tests.support.sse import events
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e

NGINX_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def lb(stack, request) -> AsyncIterator[str]:
    """The private nginx in front of the stack's gateway; its base URL."""
    upstream = stack.gateway.url.removeprefix("http://")
    async with private_nginx(ARTIFACTS / request.node.name, upstream) as url:
        yield url


@pytest.fixture
def via_lb(api, lb) -> Api:
    return Api(api.session, lb)


# --- in front of the real gateway -----------------------------------------------------------


async def test_health_and_a_purchase_through_the_load_balancer(via_lb):
    health = await via_lb.call("GET", "/healthz")
    assert health.status == 200, health
    admin = await via_lb.login(*ADMIN)
    sale = await via_lb.create_sale(admin, stock=1)
    buyer = await via_lb.user("buyer")
    reply = await via_lb.purchase(buyer, sale["sale_id"])
    assert reply.status == 202, reply
    assert reply.headers["Location"] == f"/api/v1/tickets/{reply.body['ticket_id']}"
    ticket = await via_lb.wait_final(buyer, reply.body["ticket_id"])
    assert ticket["status"] == "confirmed"


async def test_the_clients_request_id_reaches_the_gateway(via_lb):
    # The gateway answers with the request id it was handed, so this shows what arrived.
    sent = "lb-test-4f2a9c"
    reply = await via_lb.call("GET", "/api/v1/sales", headers={"X-Request-ID": sent})
    assert reply.status == 200
    assert reply.headers.get("X-Request-ID") == sent
    # Without one, nginx makes one up and the gateway gets (and echoes) that.
    reply = await via_lb.call("GET", "/api/v1/sales")
    assert NGINX_REQUEST_ID.fullmatch(reply.headers.get("X-Request-ID", "")), reply.headers


async def test_sale_and_ticket_events_flow_through_as_they_happen(via_lb):
    admin = await via_lb.login(*ADMIN)
    sale = await via_lb.create_sale(admin, stock=5, per_user_limit=5)
    buyer = await via_lb.user("buyer")
    async with via_lb.session.get(f"{via_lb.base}/api/v1/sales/{sale['sale_id']}/events") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        stream = events(resp)
        first = await asyncio.wait_for(anext(stream), 2)  # not held back in a buffer
        assert first.data["remaining"] == 5
        ticket_id = (await via_lb.purchase(buyer, sale["sale_id"])).body["ticket_id"]

        async def decided() -> None:
            # The stream stays open and the change comes through (possibly after an event
            # for another change of the sale's version).
            async for event in stream:
                if event.data["remaining"] == 4:
                    return

        await asyncio.wait_for(decided(), 5)

    async with via_lb.session.get(
        f"{via_lb.base}/api/v1/tickets/{ticket_id}/events",
        headers={"Authorization": f"Bearer {buyer}"},
    ) as resp:
        assert resp.status == 200
        seen = []
        async for event in events(resp):  # ends when final: the order paid
            seen.append(event.data)
            if event.data["order_status"] == "awaiting_payment":
                paid = await via_lb.pay(buyer, event.data["order_id"])
                assert paid.status == 202, paid
    assert (seen[-1]["status"], seen[-1]["order_status"]) == ("confirmed", "paid")


async def test_a_body_over_16_kib_is_refused_with_a_json_error(via_lb):
    big = {"username": "someone", "password": "x" * (16 * 1024)}
    reply = await via_lb.call("POST", "/api/v1/auth/register", json=big)
    assert reply.status == 413
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body["error"]["code"] == "payload_too_large"


async def test_with_the_gateway_down_nginx_answers_a_json_error_to_retry(stack, via_lb):
    stack.gateway.stop()
    reply = await via_lb.call("GET", "/api/v1/sales", headers={"X-Request-ID": "down-1"})
    assert reply.status == 502
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["error"]["code"] == "bad_gateway"
    assert set(reply.body["error"]) == {"code", "message"}
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.headers["X-Request-ID"] == "down-1"


# --- in front of stand-in replicas named by a DNS server of our own ---------------------------


class FakeDns(asyncio.DatagramProtocol):
    """Answers A queries for ``name`` with ``addresses`` (changeable at any time)."""

    def __init__(self, name: str, addresses: list[str]) -> None:
        self.name = name
        self.addresses = addresses
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1 : i + 1 + data[i]].decode())
            i += 1 + data[i]
        question = data[12 : i + 5]  # the name, its terminator, type and class
        qtype = int.from_bytes(data[i + 1 : i + 3], "big")
        known = ".".join(labels).lower() == self.name
        answers = self.addresses if known and qtype == 1 else []
        flags = bytes([0x81, 0x80 | (0 if known else 3)])  # a recursive reply; NXDOMAIN
        header = data[:2] + flags + b"\x00\x01" + len(answers).to_bytes(2, "big") + bytes(4)
        records = b"".join(
            b"\xc0\x0c\x00\x01\x00\x01" + bytes(4) + b"\x00\x04" + socket.inet_aton(address)
            for address in answers
        )
        assert self.transport is not None
        self.transport.sendto(header + question + records, addr)


def _free_port_on(addresses: list[str]) -> int:
    """A TCP port free on every address (replicas share one port, each at its own address)."""
    for _ in range(20):
        candidate = free_port()
        try:
            for address in addresses:
                with socket.socket() as s:
                    s.bind((address, candidate))
        except OSError:
            continue
        return candidate
    raise RuntimeError(f"no port free on all of {addresses}")


class Replicas:
    """Stand-in gateways: each says who it is and which forwarding headers reached it."""

    def __init__(self, addresses: list[str]) -> None:
        self.port = _free_port_on(addresses)
        self.closing = asyncio.Event()
        self._runners: dict[str, web.AppRunner] = {}

    def _app(self, address: str) -> web.Application:
        async def who(request: web.Request) -> web.Response:
            seen = ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID")
            headers = {h: request.headers.get(h) for h in seen}
            return web.json_response({"replica": address, "headers": headers})

        async def stream(request: web.Request) -> web.StreamResponse:
            # No X-Accel-Buffering here: whether nginx buffers is up to its configuration.
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b'event: sale\ndata: {"n": 1}\n\n')
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), 30)
            return response

        app = web.Application()
        app.router.add_get("/whoami", who)
        app.router.add_get("/api/v1/sales/{sale_id}/events", stream)
        return app

    async def start(self, address: str) -> None:
        runner = web.AppRunner(self._app(address), shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, address, self.port).start()
        self._runners[address] = runner

    async def stop(self, address: str) -> None:
        await self._runners.pop(address).cleanup()

    async def close(self) -> None:
        self.closing.set()
        for address in list(self._runners):
            await self.stop(address)


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    running = Replicas(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def dns() -> AsyncIterator[tuple[FakeDns, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: FakeDns("gateway", []), local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


@pytest.fixture
async def lb_by_name(replicas, dns, request) -> AsyncIterator[str]:
    """The private nginx in front of "gateway:PORT", resolved by the fake DNS."""
    _, dns_port = dns
    async with private_nginx(
        ARTIFACTS / request.node.name,
        f"gateway:{replicas.port}",
        resolver=f"127.0.0.1:{dns_port}",
    ) as url:
        yield url


async def _who(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> dict[str, Any]:
    async with session.get(f"{url}/whoami", **kwargs) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def test_requests_spread_over_every_replica_and_follow_scaling(replicas, dns, lb_by_name):
    resolver, _ = dns
    for address in ("127.0.0.2", "127.0.0.3"):
        await replicas.start(address)
    resolver.addresses = ["127.0.0.2", "127.0.0.3"]
    async with aiohttp.ClientSession() as session:
        served = Counter([(await _who(session, lb_by_name))["replica"] for _ in range(60)])
        assert set(served) == {"127.0.0.2", "127.0.0.3"}, served
        assert min(served.values()) >= 10, f"one replica gets almost nothing: {served}"

        # Scaled up: the new replica gets requests once the cached answer expires (5 s).
        await replicas.start("127.0.0.4")
        resolver.addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        started = time.monotonic()
        while (await _who(session, lb_by_name))["replica"] != "127.0.0.4":
            assert time.monotonic() - started < 12, "the new replica never got a request"
            await asyncio.sleep(0.05)

        # Scaled down: until the answer expires nginx still tries the replica that is gone,
        # fails to connect and passes the request to another one. No request fails.
        await replicas.stop("127.0.0.2")
        resolver.addresses = ["127.0.0.3", "127.0.0.4"]
        deadline = time.monotonic() + 7
        seen: Counter[str] = Counter()
        while time.monotonic() < deadline:
            seen[(await _who(session, lb_by_name))["replica"]] += 1
            await asyncio.sleep(0.02)
        assert set(seen) == {"127.0.0.3", "127.0.0.4"}, seen


async def test_forwarding_headers_name_the_client_and_the_request(replicas, dns, lb_by_name):
    resolver, _ = dns
    await replicas.start("127.0.0.2")
    resolver.addresses = ["127.0.0.2"]
    async with aiohttp.ClientSession() as session:
        seen = await _who(
            session,
            lb_by_name,
            headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "client-id-1"},
        )
    # Appended: the gateway trusts only the last entry, which nginx wrote.
    assert seen["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert seen["headers"]["X-Forwarded-Proto"] == "http"
    assert seen["headers"]["X-Request-ID"] == "client-id-1"
    assert seen["headers"]["Host"] == lb_by_name.removeprefix("http://")

    # Another loopback address is another client (what throttling tests rely on).
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        seen = await _who(session, lb_by_name)
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.3"
    assert NGINX_REQUEST_ID.fullmatch(seen["headers"]["X-Request-ID"])


async def test_events_pass_at_once_and_the_stream_stays_open(replicas, dns, lb_by_name):
    resolver, _ = dns
    await replicas.start("127.0.0.2")
    resolver.addresses = ["127.0.0.2"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{lb_by_name}/api/v1/sales/s1/events") as resp,
    ):
        assert resp.status == 200
        stream = events(resp)
        first = await asyncio.wait_for(anext(stream), 2)
        assert first.data == {"n": 1}
        # Nothing more comes, and nginx does not end the response either.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), 1.5)
        assert not resp.content.at_eof()


async def test_a_name_nobody_answers_is_a_json_502(dns, replicas, lb_by_name):
    resolver, _ = dns
    resolver.name = "nobody-here"
    async with aiohttp.ClientSession() as session, session.get(f"{lb_by_name}/whoami") as resp:
        body = json.loads(await resp.text())
        assert resp.status == 502
        assert resp.headers["Content-Type"] == "application/json"
        assert body["error"]["code"] == "bad_gateway"
        assert resp.headers["Retry-After"]
