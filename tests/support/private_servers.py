"""Private RabbitMQ, Redis and Postgres servers, for fault tests that stop, kill and restart them.

The machine's RabbitMQ, Postgres and Redis are shared by every test and every developer, so
they are never stopped. A scenario that takes a server down runs its own instead: a process
on free ports with its data in a temporary directory. Every server here offers

- ``await start()``: spawn it and wait, with a deadline, until it answers;
- ``await stop()``: a clean shutdown (SIGTERM; pg_ctl ``-m fast`` or ``-m immediate``);
- ``await kill()``: SIGKILL, as when a machine dies: only what was already on disk survives;
- ``await restart()``: stop (or kill) and start again on the same data directory;
- ``close()``: synchronous, so it is safe in ``finally`` (even when the event loop is gone) and
  at interpreter exit: kill what is left, keep the logs under the test's artifacts, delete
  the data.

The ``private_*`` async context managers below always call ``close()``. Readiness is checked
the way a client sees it: Redis answers PING (not LOADING), RabbitMQ completes an AMQP
handshake, Postgres accepts a connection.

RabbitMQ runs as the ``rabbitmq`` user with its home, so the node uses that account's Erlang
cookie (~/.erlang.cookie) and registers with the machine's epmd (bound to 127.0.0.1) under a
node name of its own. Postgres refuses to run as root, so ``initdb`` and ``pg_ctl`` run as
``postgres``. When the tests do not run as root, both run as the current user.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar, Literal

import aio_pika
import asyncpg
import redis.asyncio as aioredis
import redis.exceptions

from shared.migrate import migrate
from tests.support.processes import free_port

StopMode = Literal["smart", "fast", "immediate"]

_LIVE: set[PrivateServer] = set()


@atexit.register
def _close_leftovers() -> None:
    # A test that died without reaching its finally must not leave servers behind.
    for server in list(_LIVE):
        server.close()


def _run_as(account: str) -> str | None:
    """The account to switch to: ``account`` when we are root and it exists, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(account)
    except KeyError:
        return None
    return account


class ServerDown(RuntimeError):
    """A private server exited or did not answer in time."""


class PrivateServer:
    """A server process of our own, with its data and logs in a temporary directory."""

    kind: ClassVar[str]
    account: ClassVar[str | None] = None

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.user = _run_as(self.account) if self.account else None
        self.base = Path(tempfile.mkdtemp(prefix=f"fs-{self.kind}-"))
        if self.user:
            shutil.chown(self.base, self.user, self.user)
        self.process: subprocess.Popen[bytes] | None = None
        # (monotonic time, what happened): the scenario reports its timeline from these.
        self.events: list[tuple[float, str]] = []
        self._closed = False
        _LIVE.add(self)

    # --- what each kind defines --------------------------------------------------------------

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    async def _answers(self) -> bool:
        """One readiness probe: True if the server serves clients now."""
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.base / f"{self.kind}.out"

    def _logs(self) -> list[Path]:
        return [self.log_path]

    # --- lifecycle ---------------------------------------------------------------------------

    def _note(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                cwd=self.base,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own process group: kill() takes every process the server forked.
                start_new_session=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
            )

    async def start(self, timeout: float = 60.0) -> None:
        """Spawn the server and wait until it answers."""
        if self.running():
            raise RuntimeError(f"private {self.kind} is already running")
        self._spawn()
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerDown(
                    f"private {self.kind} exited with {self.process.returncode}:\n{self.tail()}"
                )
            if await self._answers():
                self._note("ready")
                return
            await asyncio.sleep(0.05)
        raise ServerDown(f"private {self.kind} not ready after {timeout}s:\n{self.tail()}")

    async def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not self.running()

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL if it does not come in time)."""
        if not self.running():
            return
        assert self.process is not None
        self._note("stopping")
        self.process.send_signal(signal.SIGTERM)
        if not await self._wait_exit(timeout):
            self._killpg()
        self._note("stopped")

    async def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush."""
        self._note("killed")
        self._killpg()

    def _killpg(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    async def restart(self, *, kill: bool = False) -> None:
        """Stop (or kill) and start again on the same data."""
        await (self.kill() if kill else self.stop())
        await self.start()

    def tail(self, lines: int = 30) -> str:
        chunks = []
        for path in self._logs():
            with contextlib.suppress(OSError):
                chunks.append(
                    f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-lines:])
                )
        return "\n".join(chunks) or "(no log)"

    def _terminate(self) -> None:
        self._killpg()

    def close(self) -> None:
        """Kill whatever runs, keep the logs under the artifacts, delete the data. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        try:
            self._terminate()
        finally:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            for path in self._logs():
                with contextlib.suppress(OSError):
                    shutil.copyfile(path, self.artifacts / self._artifact_name(path))
            shutil.rmtree(self.base, ignore_errors=True)

    def _artifact_name(self, path: Path) -> str:
        """What a log is called among the test's artifacts: by port too, as a scenario may
        run several servers of a kind (a replica, Sentinels, cluster nodes)."""
        port = getattr(self, "port", None)
        return f"private-{self.kind}{f'-{port}' if port else ''}-{path.name}"


async def _pongs(port: int) -> bool:
    """Whether the Redis (or Sentinel) on ``port`` answers PING now (while its AOF loads,
    Redis accepts connections but answers LOADING)."""
    client = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def replicas_online(port: int) -> int:
    """Replicas of the Redis on ``port`` done with their first sync (a connected one may still
    wait for it); 0 while that Redis does not answer."""
    client = aioredis.Redis(port=port, decode_responses=True, socket_timeout=1)
    try:
        info = await client.info("replication")
    except (redis.exceptions.RedisError, OSError):
        return 0
    finally:
        await client.aclose()
    # slave0, slave1, ... are the replicas; a replica's own INFO has slave_* numbers too.
    return sum(
        1
        for k, v in info.items()
        if isinstance(v, dict) and k.startswith("slave") and v.get("state") == "online"
    )


class PrivateRedis(PrivateServer):
    """redis-server with the persistence deploy/redis.conf ships: AOF, fsync always; a
    replica of another when ``replica_of`` names its port; a Redis Cluster node (its
    nodes.conf in its own directory) with ``cluster``: tests/support/redis_cluster.py joins
    such nodes into a cluster."""

    kind = "redis"

    def __init__(
        self, artifacts: Path, *, replica_of: int | None = None, cluster: bool = False
    ) -> None:
        super().__init__(artifacts)
        self.port = free_port()
        self.replica_of = replica_of
        self.cluster = cluster
        # The cluster bus's port: by default port + 10000, which may be taken or past 65535.
        self.bus_port = free_port() if cluster else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.base),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", "",
            # A replica is served at once, not after the default 5 s diskless-sync delay.
            "--repl-diskless-sync-delay", "0",
            *(["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []),
            *(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
               "--cluster-port", str(self.bus_port)] if self.cluster else []),
        ]  # fmt: skip

    async def _answers(self) -> bool:
        return await _pongs(self.port)


class PrivateSentinel(PrivateServer):
    """A Redis Sentinel watching the primary at ``primary_port`` under the name ``master``
    (redis-server in sentinel mode, its config in its own directory: Sentinel rewrites it)."""

    kind = "sentinel"

    def __init__(self, artifacts: Path, *, primary_port: int, master: str, quorum: int = 2) -> None:
        super().__init__(artifacts)
        self.port = free_port()
        (self.base / "sentinel.conf").write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.base}\n"
            f"sentinel monitor {master} 127.0.0.1 {primary_port} {quorum}\n"
            f"sentinel down-after-milliseconds {master} 1000\n"
            f"sentinel failover-timeout {master} 5000\n"
            f"sentinel parallel-syncs {master} 1\n"
        )
        if self.user:
            shutil.chown(self.base / "sentinel.conf", self.user, self.user)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def _command(self) -> list[str]:
        server = shutil.which("redis-server") or "redis-server"
        return [server, str(self.base / "sentinel.conf"), "--sentinel"]

    async def _answers(self) -> bool:
        return await _pongs(self.port)


class PrivateRabbitMQ(PrivateServer):
    """A RabbitMQ node of its own: name, ports, data and logs; configured like the shared one."""

    kind = "rabbitmq"
    account = "rabbitmq"

    def __init__(self, artifacts: Path) -> None:
        super().__init__(artifacts)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"fault{secrets.token_hex(4)}@localhost"
        # As /etc/rabbitmq/rabbitmq.conf: listen on loopback only. An empty env file keeps
        # the machine's rabbitmq-env.conf (which names the shared node) out of it.
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "enabled_plugins").write_text("[].\n")
        if self.user:
            for path in self.base.iterdir():
                shutil.chown(path, self.user, self.user)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _command(self) -> list[str]:
        # The script itself, not the /usr/sbin wrapper (which would su to the shared setup).
        script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        return [str(script if script.exists() else "rabbitmq-server")]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.user:
            env["HOME"] = pwd.getpwnam(self.user).pw_dir  # its ~/.erlang.cookie
        env.update(
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def _logs(self) -> list[Path]:
        return [self.log_path, self.base / "log" / f"{self.node}.log"]

    async def _answers(self) -> bool:
        # The listener opens at the end of the boot; probing TCP first keeps the AMQP
        # client from logging a connection error for every early probe.
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        try:
            connection = await aio_pika.connect(self.url, timeout=2)
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
            return False
        await connection.close()
        return True


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if not versions:
        raise ServerDown(f"{name} not found: install PostgreSQL's server binaries")
    return str(versions[0])


class PrivatePostgres(PrivateServer):
    """A Postgres cluster of its own (initdb); defaults kept (fsync and synchronous_commit on).

    The postmaster runs as our child (the command ``pg_ctl start`` would run, without
    daemonising) so that a SIGKILLed one is reaped at once: this machine's init does not
    reap orphans, and a zombie postmaster would block the restart ("lock file already
    exists"). Clean stops go through ``pg_ctl stop -m fast|immediate``.

    With a ``password`` the cluster asks every client for it (``initdb -A scram-sha-256``), as
    a stock Debian server asks TCP clients; without one it trusts them.
    """

    kind = "postgres"
    account = "postgres"

    def __init__(self, artifacts: Path, *, password: str | None = None) -> None:
        super().__init__(artifacts)
        self.port = free_port()
        self.data = self.base / "data"
        self.password = password

    def url(self, database: str = "postgres") -> str:
        """A URL that logs in as ``postgres`` (with the password, if the cluster has one)."""
        login = f"postgres:{self.password}" if self.password else "postgres"
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    def _command(self) -> list[str]:
        return [
            _postgres_bin("postgres"),
            "-D", str(self.data),
            "-k", str(self.base),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip

    async def _run(self, command: list[str], timeout: float = 60.0) -> None:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ServerDown(f"{command[0]} did not finish in {timeout}s:\n{self.tail()}") from None
        if process.returncode != 0:
            raise ServerDown(f"{' '.join(command)} failed:\n{output.decode()}\n{self.tail()}")

    async def start(self, timeout: float = 60.0) -> None:
        if not (self.data / "PG_VERSION").exists():
            # --no-sync only speeds up initdb itself; the server runs with fsync on.
            await self._run(
                [_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                 *self._auth_options(), "-E", "UTF8", "--no-sync"]
            )  # fmt: skip
        await super().start(timeout)

    def _auth_options(self) -> list[str]:
        if not self.password:
            return ["-A", "trust"]
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.user:
            shutil.chown(pwfile, self.user, self.user)
        return ["-A", "scram-sha-256", "--pwfile", str(pwfile)]

    async def _answers(self) -> bool:
        try:
            connection = await asyncpg.connect(self.url(), timeout=2)
        except (asyncpg.PostgresError, OSError, TimeoutError):
            return False
        await connection.close()
        return True

    async def stop(self, timeout: float = 30.0, *, mode: StopMode = "fast") -> None:
        """pg_ctl stop: ``fast`` rolls back and disconnects, ``immediate`` skips the checkpoint."""
        if not self.running():
            return
        self._note(f"stopping ({mode})")
        await self._run(
            [_postgres_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w",
             "-t", str(int(timeout))],
            timeout=timeout + 5,
        )  # fmt: skip
        if not await self._wait_exit(timeout):
            self._killpg()
        self._note("stopped")

    async def restart(self, *, kill: bool = False, mode: StopMode = "fast") -> None:
        await (self.kill() if kill else self.stop(mode=mode))
        await self.start()


@contextlib.asynccontextmanager
async def private_redis(artifacts: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(artifacts)
    try:
        await server.start()
        yield server
    finally:
        server.close()


@contextlib.asynccontextmanager
async def private_redis_pair(
    artifacts: Path, *, within: float = 30
) -> AsyncIterator[tuple[PrivateRedis, PrivateRedis]]:
    """A private primary and its replica, yielded once the replica finished its first sync."""
    primary = PrivateRedis(artifacts)
    replica: PrivateRedis | None = None
    try:
        await primary.start()
        replica = PrivateRedis(artifacts, replica_of=primary.port)
        await replica.start()
        deadline = time.monotonic() + within
        while await replicas_online(primary.port) == 0:
            if time.monotonic() > deadline:
                raise ServerDown(f"the private replica did not sync within {within} s")
            await asyncio.sleep(0.1)
        yield primary, replica
    finally:
        primary.close()
        if replica is not None:
            replica.close()


@contextlib.asynccontextmanager
async def private_rabbitmq(artifacts: Path) -> AsyncIterator[PrivateRabbitMQ]:
    server = PrivateRabbitMQ(artifacts)
    try:
        await server.start(timeout=90)
        yield server
    finally:
        server.close()


@contextlib.asynccontextmanager
async def private_postgres(
    artifacts: Path, database: str | None = "flashsale", *, password: str | None = None
) -> AsyncIterator[PrivatePostgres]:
    """A private cluster with ``database`` created and migrated (``shared.migrate``).

    ``database=None`` leaves the cluster empty; ``password`` makes it ask clients for one.
    """
    server = PrivatePostgres(artifacts, password=password)
    try:
        await server.start()
        if database is not None:
            await migrate(server.url(database))
        yield server
    finally:
        server.close()
