"""The stack of one fault scenario: services as processes, a sale, registered buyers, a crowd.

``open_rig`` starts the four services (optionally two gateways or a standby inventory
replica) against the servers it is given, which may be private ones the scenario breaks,
creates a sale and registers the buyers; on the way out it stops every process it started
and removes the namespace's keys and queues from shared servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import aio_pika
import aiohttp
import redis.asyncio as aioredis

from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names, delete_topology
from shared.runtime.launcher import start_together, stop_all
from tests.conftest import TEST_PARTITIONS
from tests.faults.crowd import Attempt, Crowd
from tests.support.api import Api
from tests.support.invariants import wait_until_final
from tests.support.processes import ARTIFACTS, ServiceProcess, Stack, service_env

ADMIN = ("admin", "admin-password-for-tests")
T = TypeVar("T")


async def gather_limited(coroutines: Iterable[Awaitable[T]], limit: int) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Awaitable[T]) -> T:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


@dataclass
class Outage:
    """A dependency taken down: 503s are allowed from ``down`` until it is back and serving."""

    what: str
    down: float
    back: float | None = None


@dataclass
class Rig:
    artifacts: Path
    stack: Stack
    gateways: list[ServiceProcess]
    inventories: list[ServiceProcess]
    session: aiohttp.ClientSession
    api: Api
    redis: aioredis.Redis
    keys: Keys
    names: Names
    amqp_url: str
    database_url: str
    sale_id: str
    stock: int
    per_user_limit: int
    tokens: list[str]
    outages: list[Outage] = field(default_factory=list)

    def crowd(self, *, attempts: int, duration: float, seed: int = 7) -> Crowd:
        return Crowd(
            self.session,
            [g.url for g in self.gateways],
            self.tokens,
            self.sale_id,
            attempts=attempts,
            duration=duration,
            seed=seed,
        )

    def outage(self, what: str) -> Outage:
        """Record that ``what`` goes down now; set ``.back`` when it serves again."""
        outage = Outage(what, time.monotonic())
        self.outages.append(outage)
        return outage

    async def ready(self, service: ServiceProcess) -> bool:
        try:
            async with self.session.get(f"{service.url}/readyz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def wait_all_ready(self, timeout: float = 30.0) -> float:
        """Wait until every running service reports ready; seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        running = [s for s in self.stack.services if s.running]
        while True:
            states = await asyncio.gather(*(self.ready(s) for s in running))
            if all(states):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                down = [s.name for s, ok in zip(running, states, strict=True) if not ok]
                raise AssertionError(f"not ready {timeout}s after recovery: {down}")
            await asyncio.sleep(0.1)

    async def metric(self, service: ServiceProcess, name: str) -> dict[str, float]:
        """Samples of a Prometheus counter by label set, e.g. {'reason="X"': 1.0}."""
        async with self.session.get(f"{service.url}/metrics") as resp:
            text = await resp.text()
        pattern = rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$"
        return {labels or "": float(value) for labels, value in re.findall(pattern, text, re.M)}


async def until(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float, what: str
) -> float:
    """Poll ``condition`` until it holds; seconds it took. AssertionError at the deadline."""
    started = time.monotonic()
    while True:
        value = condition()
        if value if isinstance(value, bool) else await value:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(crowd: Crowd) -> AsyncIterator[asyncio.Task[list[Attempt]]]:
    """The crowd as a task, cancelled (with its requests) if the scenario fails midway."""
    task = asyncio.create_task(crowd.run())
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def backlog_final(rig: Rig, crowd: Crowd, since: float, timeout: float = 60) -> float:
    """Seconds after ``since`` until every ticket answered 202 before it was final."""
    tickets = [a.ticket_id for a in crowd.attempts if a.ticket_id and a.ended <= since]
    pending = await wait_until_final(
        rig.redis, rig.keys, [UUID(t) for t in tickets], timeout=timeout
    )
    if pending:
        states = {t: await rig.redis.hgetall(rig.keys.ticket(t)) for t in pending[:5]}
        raise AssertionError(
            f"{len(pending)} tickets issued before recovery still not final: {states}"
        )
    return round(time.monotonic() - since, 2)


def log_summary(rig: Rig) -> dict[str, dict[str, int]]:
    """Warning and error log lines of every service, counted by message."""
    summary: dict[str, dict[str, int]] = {}
    for service in rig.stack.services:
        counts: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in service.log_path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and entry.get("level") in ("warning", "error"):
                        counts[f"{entry['level']}: {entry.get('msg')}"] += 1
        if counts:
            summary[service.log_path.stem] = dict(counts)
    return summary


def log_lines(service: ServiceProcess, msg: str) -> list[dict[str, Any]]:
    """The JSON log entries of ``service`` whose message is ``msg``."""
    found = []
    for line in service.log_path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("msg") == msg:
                found.append(entry)
    return found


def terminate_all(services: Iterable[ServiceProcess]) -> dict[str, dict[str, Any]]:
    """SIGTERM every process at once, then wait for each (SIGKILL after its timeout).

    Returns each one's exit code and seconds to exit, and keeps them in the artifacts: a
    service that needs SIGKILL to stop is a finding.
    """
    services = list(services)
    exits = {
        name: {"exit_code": code, "seconds": seconds}
        for name, (code, seconds) in stop_all(services).items()
    }
    logs = [s.log for s in services if s.log is not None]
    if exits and logs:
        write_json(logs[0].parent / "shutdown.json", exits)
    return exits


@contextlib.asynccontextmanager
async def open_rig(
    test_name: str,
    *,
    amqp_url: str,
    database_url: str,
    redis_url: str,
    namespace: str,
    key_file: Path,
    shared_amqp: bool,
    shared_redis: bool,
    stock: int = 120,
    users: int = 200,
    per_user_limit: int = 1,
    gateways: int = 1,
    inventories: int = 1,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, str]] | None = None,
    redis: aioredis.Redis | None = None,
) -> AsyncIterator[Rig]:
    """The stack on the given servers; ``overrides`` changes one service's env (by module).

    ``redis`` is the client the checks read through (closed on the way out): by default a
    plain one of ``redis_url``; one through Sentinel follows a failover as the services do.
    """
    artifacts = ARTIFACTS / test_name
    shutil.rmtree(artifacts, ignore_errors=True)  # this run's logs and figures only
    artifacts.mkdir(parents=True)
    base_env = service_env(
        amqp_url=amqp_url,
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        partitions=TEST_PARTITIONS,
        key_file=key_file,
        extra={"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], **(env or {})},
    )
    stack = Stack.build(base_env, artifacts)
    extra_gateways = [stack.replica(stack.gateway, f"gateway-{i}") for i in range(1, gateways)]
    standbys = [stack.replica(stack.inventory, f"inventory-{i}") for i in range(1, inventories)]
    for service in stack.services:
        service.env.update((overrides or {}).get(service.module, {}))
    names = Names(namespace, TEST_PARTITIONS)
    keys = Keys(namespace)
    redis_client = redis or aioredis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300))
    try:
        await stack.start()
        # Started after the first inventory service is ready, a replica is the standby on
        # every partition (single active consumer goes to the first registered).
        await start_together([*extra_gateways, *standbys])
        api = Api(session, stack.gateway.url)
        admin = await api.login(*ADMIN)
        sale = await api.create_sale(admin, stock=stock, per_user_limit=per_user_limit)
        # Registration pays bcrypt: stay under the auth service's bound on waiting checks.
        tokens = await gather_limited((api.user(f"buyer{i}") for i in range(users)), limit=16)
        yield Rig(
            artifacts=artifacts,
            stack=stack,
            gateways=[stack.gateway, *extra_gateways],
            inventories=[stack.inventory, *standbys],
            session=session,
            api=api,
            redis=redis_client,
            keys=keys,
            names=names,
            amqp_url=amqp_url,
            database_url=database_url,
            sale_id=sale["sale_id"],
            stock=stock,
            per_user_limit=per_user_limit,
            tokens=tokens,
        )
    finally:
        terminate_all(stack.services)
        await session.close()
        with contextlib.suppress(Exception):
            if shared_redis:
                found = [k async for k in redis_client.scan_iter(f"{namespace}:*", count=1000)]
                if found:
                    await redis_client.delete(*found)
        await redis_client.aclose()
        if shared_amqp:
            with contextlib.suppress(Exception):
                connection = await aio_pika.connect(amqp_url)
                async with connection, connection.channel() as channel:
                    await delete_topology(channel, names)


def rig_on_shared_servers(
    request: Any, servers: Any, database_url: str, namespace: str, tmp_path: Path, **kw: Any
) -> AbstractAsyncContextManager[Rig]:
    """A rig of our own processes on the shared servers (what a crash of ours needs)."""
    return open_rig(
        request.node.name,
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        key_file=tmp_path / "jwt.pem",
        shared_amqp=True,
        shared_redis=True,
        **kw,
    )


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
