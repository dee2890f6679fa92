"""The engine under test: its four services started fresh, in their own namespace and database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import asyncpg
import redis.asyncio as aioredis

from shared.contracts.topology import Names, delete_topology
from shared.migrate import migrate
from shared.runtime.launcher import four_services, start_in_order, stop_all

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

PORTS = {
    "auth_service": 18081,
    "inventory_service": 18082,
    "order_service": 18083,
    "gateway": 18080,
}


@dataclass
class BenchConfig:
    amqp_url: str
    redis_url: str
    database_url: str
    partitions: int = 4
    namespace: str = "bench"
    uvloop: bool = True
    log_level: str = "WARNING"
    # Where the services' code comes from: another checkout (a git worktree of an older
    # commit) runs the same phases with the same load generator, for before/after figures.
    code_root: Path = ROOT
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> BenchConfig:
        base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/flashsale")
        return cls(
            amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            database_url=os.environ.get(
                "BENCH_DATABASE_URL", base.rsplit("/", 1)[0] + "/flashsale_bench"
            ),
        )

    @property
    def server_url(self) -> str:
        return self.database_url.rsplit("/", 1)[0] + "/postgres"

    def env(self) -> dict[str, str]:
        """The services' settings, on top of this process's environment."""
        return {
            "AMQP_URL": self.amqp_url,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "NAMESPACE": self.namespace,
            "INTENT_PARTITIONS": str(self.partitions),
            "LOG_LEVEL": self.log_level,
            "JWT_PRIVATE_KEY_FILE": str(ROOT / ".data" / "bench-jwt.pem"),
            "JWT_TTL_SECONDS": "7200",
            "EVENT_LOOP": "uvloop" if self.uvloop else "asyncio",
            "PYTHONPATH": str(self.code_root),
            **self.extra_env,
        }


async def reset(config: BenchConfig) -> None:
    """A clean slate: fresh database, no keys, no queues in the bench namespace."""
    conn = await asyncpg.connect(config.server_url)
    try:
        name = config.database_url.rsplit("/", 1)[1]
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    if config.code_root == ROOT:
        await migrate(config.database_url)
    else:
        # The schema of the code under test (`--code`): an older build cannot write to tables
        # a newer migration changed.
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.migrate"],
            env={**os.environ, **config.env()},
            cwd=config.code_root,
            check=True,
            capture_output=True,
        )
    client = aioredis.Redis.from_url(config.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{config.namespace}:*", count=5000)]
        for start in range(0, len(keys), 5000):
            await client.delete(*keys[start : start + 5000])
    finally:
        await client.aclose()
    connection = await aio_pika.connect(config.amqp_url)
    async with connection:
        channel = await connection.channel()
        await delete_topology(channel, Names(config.namespace, config.partitions))


class Engine:
    """The four services as processes, logs in bench/results; stopped together."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.services = four_services(
            config.env(), ports=PORTS, log_dir=RESULTS, cwd=config.code_root
        )

    async def start(self) -> None:
        for service in self.services:
            service.log_path.unlink(missing_ok=True)  # this run's lines only
        await start_in_order(self.services, within=60)
        # For profilers (py-spy record --pid ...) attached while a phase runs.
        (RESULTS / "pids.json").write_text(json.dumps(self.pids()))

    def pids(self) -> dict[str, int]:
        return {s.module: s.process.pid for s in self.services if s.process is not None}

    def stop(self) -> None:
        stop_all(self.services)


def issue_tokens(
    config: BenchConfig, count: int, *, prefix: str, role: str = "user"
) -> list[dict[str, str]]:
    """Seed users and tokens with the operator command (no bcrypt per user)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "auth_service",
            "issue-tokens",
            "--count",
            str(count),
            "--prefix",
            prefix,
            "--role",
            role,
            "--ttl",
            "7200",
        ],
        cwd=config.code_root,
        env={**os.environ, **config.env()},
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def server_pids() -> dict[str, list[int]]:
    """The shared servers' processes on this machine (CPU accounting only; best effort)."""
    found: dict[str, list[int]] = {"rabbitmq": [], "redis": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "beam.smp" in cmdline and "rabbit" in cmdline:
            found["rabbitmq"].append(int(entry.name))
        elif cmdline.startswith("redis-server") and ":6379" in cmdline:
            found["redis"].append(int(entry.name))
        elif cmdline.startswith("postgres") or "/postgres " in cmdline:
            found["postgres"].append(int(entry.name))
    return found


class ProcessSampler:
    """Peak resident memory and CPU seconds of each process while a phase runs (/proc).

    CPU seconds per request do not grow when the machine is busy with other work (a
    descheduled process spends none), so they compare runs on a shared machine better than
    wall-clock rates do.
    """

    def __init__(self, pids: dict[str, int], interval: float = 0.2) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.cpu_seconds: dict[str, float] = {}
        self._cpu_start: dict[str, float] = {}
        self._servers = server_pids()
        self._task: asyncio.Task[None] | None = None

    def _cpu_now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for name, pids in self._servers.items():
            if pids:
                now[name] = sum(cpu_seconds(pid) for pid in pids)
        # This process: the load generator (its CPU is part of what the machine spends).
        times = os.times()
        now["load generator"] = times.user + times.system
        return now

    def __enter__(self) -> ProcessSampler:
        self._cpu_start = self._cpu_now()
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
        end = self._cpu_now()
        self.cpu_seconds = {name: end[name] - self._cpu_start.get(name, 0.0) for name in end}

    async def _run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_bytes(pid))
            await asyncio.sleep(self.interval)


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
