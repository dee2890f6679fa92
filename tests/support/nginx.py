"""A private nginx running the shipped load-balancer template, for tests behind the proxy.

The template (deploy/nginx/default.conf.template) is what the `lb` service of
docker-compose.yml runs. Here it is rendered the way the official image renders it (envsubst
of the named variables) and run by Debian's nginx as a process of our own: its own prefix
directory, pid file, temp paths and logs, `daemon off`, listening on a free port of
127.0.0.1. Clients may connect from any loopback address (127.0.0.2, ...): it sees each as a
different client and names it in X-Forwarded-For.

Run as root, nginx switches its workers to an unprivileged user; they get `nobody` and own
the temp directories (proxied responses bigger than the buffers are spooled there). Logs are
opened by the master, so they stay ours. It is a private server like those of
tests/support/private_servers.py: when the context ends its process group is killed (open
event streams end at once) and its logs and rendered configuration are copied under the
test's artifacts.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from tests.support.private_servers import PrivateServer
from tests.support.processes import ROOT, free_port

TEMPLATE = ROOT / "deploy" / "nginx" / "default.conf.template"
# What the template reads, as the `lb` service's environment sets it.
VARIABLES = ("LB_LISTEN", "LB_UPSTREAM", "LB_RESOLVER")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxMissing(RuntimeError):
    """No nginx binary on this machine."""


def nginx_binary() -> str:
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not found:
        raise NginxMissing(
            "nginx not found: install Debian's `nginx` package (apt-get install nginx);"
            " the load-balancer tests run the real thing"
        )
    return found


def render(values: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with ``values`` substituted, as `envsubst '$A $B'` does: only those names
    (as ``${NAME}`` or ``$NAME``), so nginx's own variables stay as they are."""
    missing = set(VARIABLES) - set(values)
    assert not missing, f"no value for {sorted(missing)}"
    names = "|".join(re.escape(name) for name in values)
    pattern = re.compile(rf"\$(?:\{{({names})\}}|({names})(?!\w))")
    return pattern.sub(lambda m: values[m[1] or m[2]], template.read_text())


def _worker_account() -> tuple[str, str] | None:
    """(user, group) for the workers when we are root; None when nginx cannot switch."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_name, grp.getgrgid(nobody.pw_gid).gr_name


def write_config(base: Path, values: Mapping[str, str]) -> Path:
    """A main configuration under ``base`` that includes the rendered template, as the image's
    nginx.conf includes conf.d/ inside `http { }`; its path."""
    site = base / "default.conf"
    site.write_text(render(values))
    account = _worker_account()
    temp = base / "temp"
    for name in _TEMP_PATHS:
        (temp / name).mkdir(parents=True, exist_ok=True)
        if account:
            shutil.chown(temp / name, *account)
    if account:
        base.chmod(0o711)  # the workers reach their temp directories through it
    user = f"user {account[0]} {account[1]};\n" if account else ""
    temp_paths = "".join(f"    {name}_temp_path {temp / name};\n" for name in _TEMP_PATHS)
    config = base / "nginx.conf"
    config.write_text(
        f"{user}"
        "worker_processes 1;\n"
        f"pid {base / 'nginx.pid'};\n"
        f"error_log {base / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    log_format lb '$remote_addr \"$request\" $status upstream=$upstream_addr'\n"
        "                  ' request_id=$lb_request_id time=$request_time';\n"
        f"    access_log {base / 'access.log'} lb;\n"
        f"{temp_paths}"
        f"    include {site};\n"
        "}\n"
    )
    return config


def check_config(values: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the template rendered with ``values``; the caller checks the result."""
    binary = nginx_binary()
    with tempfile.TemporaryDirectory(prefix="fs-nginx-t-") as tmp:
        base = Path(tmp)
        config = write_config(base, values)
        return subprocess.run(
            [binary, "-t", "-p", str(base), "-c", str(config), "-e", str(base / "error.log")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


class PrivateNginx(PrivateServer):
    """nginx with the shipped template, in front of ``upstream`` (host:port).

    The master runs as us (as root it switches its workers to `nobody`, see write_config).
    """

    kind = "nginx"

    def __init__(
        self, artifacts: Path, upstream: str, *, resolver: str = "127.0.0.1", name: str = "nginx"
    ) -> None:
        super().__init__(artifacts)
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(
            self.base,
            {
                "LB_LISTEN": f"127.0.0.1:{self.port}",
                "LB_UPSTREAM": upstream,
                "LB_RESOLVER": resolver,
            },
        )

    def _command(self) -> list[str]:
        return [nginx_binary(), "-p", str(self.base), "-c", str(self.config),
                "-e", str(self.base / "error.log"), "-g", "daemon off;"]  # fmt: skip

    @property
    def log_path(self) -> Path:
        return self.base / "nginx.out"

    def _logs(self) -> list[Path]:
        kept = ("nginx.out", "error.log", "access.log", "nginx.conf", "default.conf")
        return [self.base / name for name in kept]

    def _artifact_name(self, path: Path) -> str:
        return f"private-{self.name}-{path.name}"

    async def _answers(self) -> bool:
        # A request nginx answers itself (HTTP/1.1 without Host is a 400), so the upstream
        # is neither needed nor disturbed.
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), 1
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 2)
            return status.startswith(b"HTTP/1.1 400")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def private_nginx(
    artifacts: Path, upstream: str, *, resolver: str = "127.0.0.1", name: str = "nginx"
) -> AsyncIterator[str]:
    """nginx in front of ``upstream`` ("127.0.0.1:PORT", or a name ``resolver`` answers);
    yields its base URL once it answers, and always stops it. ``name`` prefixes its files
    in the artifacts (for a test that runs two)."""
    server = PrivateNginx(artifacts, upstream, resolver=resolver, name=name)
    try:
        await server.start(timeout=15)
        yield server.url
    finally:
        server.close()
