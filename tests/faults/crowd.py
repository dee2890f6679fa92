"""A steady crowd of buyers over HTTP that records every answer, for the fault scenarios.

Attempts leave at a fixed rate (so a fault lands mid-stream at a known fraction) and are
spread over the gateways still in rotation. Buyers arrive one after another through the
whole stream (buyer ``u`` first tries at attempt ``u * attempts / users``), and every other
attempt is a retry by a buyer already there: the stock is sold while the fault happens,
and the per-user limit is tested by the retries.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp


@dataclass
class Attempt:
    index: int
    user: int
    gateway: int
    started: float  # time.monotonic()
    ended: float = 0.0
    status: int | None = None  # None: no HTTP answer at all
    code: str | None = None  # the error code of a 4xx/5xx body
    retry_after: str | None = None
    ticket_id: str | None = None
    error: str | None = None  # the client exception when there was no answer

    @property
    def connection_error(self) -> bool:
        return self.status is None


def arrival_plan(users: int, attempts: int, seed: int) -> list[int]:
    """The buyer of each attempt: newcomers spread evenly, retries by buyers already there."""
    rng = random.Random(seed)
    first = {u * attempts // users: u for u in range(users)}
    plan: list[int] = []
    arrived = 0
    for k in range(attempts):
        if k in first:
            plan.append(first[k])
            arrived = first[k] + 1
        else:
            plan.append(rng.randrange(max(arrived, 1)))
    return plan


class Crowd:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        gateways: Sequence[str],
        tokens: Sequence[str],
        sale_id: str,
        *,
        attempts: int,
        duration: float,
        seed: int = 7,
        timeout: float = 30.0,
    ) -> None:
        self.session = session
        self.gateways = list(gateways)
        self.tokens = list(tokens)
        self.sale_id = sale_id
        self.plan = arrival_plan(len(tokens), attempts, seed)
        self.interval = duration / attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.in_rotation = [True] * len(gateways)
        self.in_flight = [0] * len(gateways)
        self.attempts: list[Attempt] = []
        self.launched = 0
        self.started = 0.0
        self._progress = asyncio.Condition()

    @property
    def total(self) -> int:
        return len(self.plan)

    def retire(self, gateway: int) -> None:
        """Take a gateway out of rotation (a load balancer noticing it is gone)."""
        self.in_rotation[gateway] = False

    async def reached(self, fraction: float) -> None:
        """Return once ``fraction`` of the attempts have left."""
        goal = int(self.total * fraction)
        async with self._progress:
            await self._progress.wait_for(lambda: self.launched >= goal)

    async def run(self) -> list[Attempt]:
        self.started = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        try:
            for k, user in enumerate(self.plan):
                delay = self.started + k * self.interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                live = [g for g, ok in enumerate(self.in_rotation) if ok]
                tasks.append(asyncio.create_task(self._attempt(k, user, live[k % len(live)])))
                async with self._progress:
                    self.launched = k + 1
                    self._progress.notify_all()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return sorted(self.attempts, key=lambda a: a.index)

    async def _attempt(self, index: int, user: int, gateway: int) -> None:
        attempt = Attempt(index, user, gateway, time.monotonic())
        self.attempts.append(attempt)
        self.in_flight[gateway] += 1
        url = f"{self.gateways[gateway]}/api/v1/sales/{self.sale_id}/purchases"
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        try:
            async with self.session.post(
                url, json={}, headers=headers, timeout=self.timeout
            ) as resp:
                raw = await resp.read()
                attempt.status = resp.status
                attempt.retry_after = resp.headers.get("Retry-After")
                body = json.loads(raw) if raw else None
            if attempt.status == 202 and isinstance(body, dict):
                attempt.ticket_id = str(body["ticket_id"])
            elif isinstance(body, dict) and isinstance(body.get("error"), dict):
                attempt.code = body["error"].get("code")
        except (aiohttp.ClientError, TimeoutError) as exc:
            attempt.error = type(exc).__name__
        finally:
            attempt.ended = time.monotonic()
            self.in_flight[gateway] -= 1


def answers_since(attempts: Sequence[Attempt], since: float, status: int) -> int:
    """How many attempts that left after ``since`` were answered ``status``."""
    return sum(1 for a in attempts if a.started >= since and a.status == status)


def status_counts(attempts: Sequence[Attempt]) -> dict[str, int]:
    counts = Counter(
        "connection_error" if a.status is None else f"{a.status} {a.code or ''}".strip()
        for a in attempts
    )
    return dict(sorted(counts.items()))
