"""A small client of the public HTTP API, for end-to-end tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

FINAL = ("confirmed", "rejected")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.base + path, json=json, headers=all_headers
        ) as resp:
            body = await resp.json(content_type=None) if await resp.read() else None
            return Reply(resp.status, body, dict(resp.headers))

    async def register(self, username: str, password: str) -> Reply:
        return await self.call(
            "POST", "/api/v1/auth/register", json={"username": username, "password": password}
        )

    async def login(self, username: str, password: str) -> str:
        reply = await self.call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert reply.status == 200, reply
        return str(reply.body["access_token"])

    async def user(self, username: str, password: str = "correct-horse") -> str:
        """Register and log in; the user's token."""
        reply = await self.register(username, password)
        assert reply.status == 201, reply
        return await self.login(username, password)

    async def create_product(
        self,
        admin_token: str,
        *,
        name: str = "Limited sneaker",
        amount: int = 12_900,
        currency: str = "EUR",
        **extra: Any,
    ) -> dict[str, Any]:
        reply = await self.call(
            "POST",
            "/api/v1/admin/products",
            token=admin_token,
            json={"name": name, "price": {"amount": amount, "currency": currency}, **extra},
        )
        assert reply.status == 201, reply
        return dict(reply.body)

    async def create_sale(
        self,
        admin_token: str,
        *,
        stock: int,
        per_user_limit: int = 1,
        starts_in: timedelta = timedelta(seconds=-1),
        lasts: timedelta = timedelta(hours=1),
        name: str = "drop",
        product_id: str | None = None,
        **terms: Any,
    ) -> dict[str, Any]:
        """A sale (of a new product unless one is named); ``terms``: price,
        payment_window_seconds, waitlist_size."""
        if product_id is None:
            product_id = (await self.create_product(admin_token))["product_id"]
        starts = datetime.now(UTC) + starts_in
        reply = await self.call(
            "POST",
            "/api/v1/admin/sales",
            token=admin_token,
            json={
                "name": name,
                "stock": stock,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + lasts).isoformat(),
                "per_user_limit": per_user_limit,
                "product_id": product_id,
                **terms,
            },
        )
        assert reply.status == 201, reply
        return dict(reply.body)

    async def purchase(self, token: str, sale_id: str, *, key: str | None = None) -> Reply:
        headers = {"Idempotency-Key": key} if key else None
        return await self.call(
            "POST", f"/api/v1/sales/{sale_id}/purchases", token=token, json={}, headers=headers
        )

    async def ticket(self, token: str, ticket_id: str) -> Reply:
        return await self.call("GET", f"/api/v1/tickets/{ticket_id}", token=token)

    async def wait_final(
        self, token: str, ticket_id: str, *, timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the ticket until it is confirmed or rejected."""
        return await self.wait_ticket(
            token, ticket_id, lambda ticket: ticket["status"] in FINAL, timeout=timeout
        )

    async def wait_ticket(
        self,
        token: str,
        ticket_id: str,
        done: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Poll the ticket until ``done(ticket)``."""
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.ticket(token, ticket_id)
            assert reply.status == 200, reply
            if done(reply.body):
                return dict(reply.body)
            if time.monotonic() > deadline:
                raise AssertionError(f"ticket {ticket_id} still {reply.body} after {timeout}s")
            await asyncio.sleep(0.05)

    async def order(self, token: str, order_id: str) -> Reply:
        return await self.call("GET", f"/api/v1/orders/{order_id}", token=token)

    async def pay(
        self, token: str, order_id: str, method: str = "pm_card_visa", *, key: str | None = None
    ) -> Reply:
        headers = {"Idempotency-Key": key} if key else None
        return await self.call(
            "POST",
            f"/api/v1/orders/{order_id}/payments",
            token=token,
            json={"payment_method": method},
            headers=headers,
        )

    async def wait_order(
        self, token: str, order_id: str, statuses: tuple[str, ...], *, timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the order until its status is one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.order(token, order_id)
            assert reply.status == 200, reply
            if reply.body["status"] in statuses:
                return dict(reply.body)
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} still {reply.body} after {timeout}s")
            await asyncio.sleep(0.05)

    async def stats(self, admin_token: str, sale_id: str) -> dict[str, Any]:
        reply = await self.call("GET", f"/api/v1/admin/sales/{sale_id}/stats", token=admin_token)
        assert reply.status == 200, reply
        return dict(reply.body)

    async def winners_in_waves(
        self, admin_token: str, *, orders: int, wave: int, prefix: str, **terms: Any
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """A sale of ``orders`` units won by as many new buyers, ``wave`` of them every 100 ms,
        so that their deadlines (and what happens at them) are spread out; (sale, [(token,
        confirmed ticket)])."""
        sale = await self.create_sale(admin_token, stock=orders, **terms)
        semaphore = asyncio.Semaphore(16)  # registration pays bcrypt

        async def user(name: str) -> str:
            async with semaphore:
                return await self.user(name)

        tokens = await asyncio.gather(*(user(f"{prefix}{i}") for i in range(orders)))
        replies: list[Reply] = []
        for first in range(0, orders, wave):
            replies += await asyncio.gather(
                *(self.purchase(t, sale["sale_id"]) for t in tokens[first : first + wave])
            )
            await asyncio.sleep(0.1)
        assert {r.status for r in replies} == {202}, replies
        tickets = await asyncio.gather(
            *(self.wait_final(t, r.body["ticket_id"]) for t, r in zip(tokens, replies, strict=True))
        )
        assert {x["status"] for x in tickets} == {"confirmed"}, tickets
        return sale, list(zip(tokens, tickets, strict=True))
