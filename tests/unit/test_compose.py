"""Static checks of docker-compose.yml, deploy/Dockerfile and deploy/redis.conf.

Nothing here runs Docker (our machines have no engine): the files are parsed and checked
against the code they configure, so a renamed setting or a changed port fails here first.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import shlex
import tomllib
from fnmatch import fnmatch
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
REDIS_CONF = ROOT / "deploy" / "redis.conf"

SETTINGS = {
    "gateway": "gateway.settings.GatewaySettings",
    "inventory_service": "inventory_service.settings.InventorySettings",
    "order_service": "order_service.settings.OrderSettings",
    "auth_service": "auth_service.settings.AuthSettings",
}
APP_SERVICES = sorted(SETTINGS)
# What each service connects to, plus HOST and PORT: every default of these is a 127.0.0.1
# address, which is wrong in a container.
NEEDS = {
    "gateway": {"AMQP_URL", "REDIS_URL", "AUTH_URL", "INVENTORY_URL", "ORDER_URL"},
    "inventory_service": {"AMQP_URL", "DATABASE_URL", "REDIS_URL", "AUTH_URL"},
    "order_service": {"AMQP_URL", "DATABASE_URL", "REDIS_URL", "AUTH_URL"},
    "auth_service": {"DATABASE_URL", "REDIS_URL"},
}
SERVICE_URLS = {
    "AUTH_URL": "auth_service",
    "INVENTORY_URL": "inventory_service",
    "ORDER_URL": "order_service",
}
# URL variable -> (image of the server it must name, the server's port).
SERVER_URLS = {
    "AMQP_URL": ("rabbitmq", 5672),
    "DATABASE_URL": ("postgres", 5432),
    "REDIS_URL": ("redis", 6379),
}
# Settings that must be the same in every service, or they stop talking to each other.
AGREED = ("namespace", "intent_partitions", "jwt_issuer", "jwt_audience")
# Started only by `docker compose --profile observability up` (see test_observability.py).
OBSERVABILITY = {"prometheus", "grafana"}
# Started only by the `cluster` profile (deploy/cluster.env turns it on and points the services
# at these; tests/unit/test_compose_v2.py checks the result).
CLUSTER = {"rabbitmq-2", "rabbitmq-3", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}
# nginx in front of the gateways (deploy/nginx/, tests/unit/test_nginx_config.py).
LOAD_BALANCER = "lb"

_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)


def interpolate(text: str) -> str:
    """``text`` as compose sees it with an empty environment: every variable needs a default."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match["bare"] or match["op"] not in (":-", "-"):
            raise AssertionError(
                f"{match.group(0)} has no default: `docker compose up` must work without a .env"
            )
        return match["arg"]

    return _VARIABLE.sub(value, text)


def _resolved(node: Any) -> Any:
    if isinstance(node, str):
        return interpolate(node)
    if isinstance(node, dict):
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value) for value in node]
    return node


def _keys_given_twice(node: Any, seen: set[int]) -> list[str]:
    """Keys repeated in one mapping: compose refuses them, PyYAML silently keeps the last."""
    if id(node) in seen:
        return []
    seen.add(id(node))
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        # Keys merged in from an anchor (`<<:`) may be overridden, so only direct keys count.
        keys = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        names = [k.value for k in keys]
        found += [
            f"line {k.start_mark.line + 1}: {k.value}" for k in keys if names.count(k.value) > 1
        ]
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        children = []
    for child in children:
        found += _keys_given_twice(child, seen)
    return found


@cache
def raw_compose() -> dict[str, Any]:
    text = COMPOSE.read_text()
    repeated = _keys_given_twice(yaml.compose(text), set())
    assert not repeated, f"docker-compose.yml gives keys twice: {repeated}"
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


@cache
def compose() -> dict[str, Any]:
    """The compose file after YAML merges and variable defaults."""
    return _resolved(raw_compose())


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    for key, value in env.items():
        assert value is not None, f"{name}: {key} has no value (it would come from the host)"
        assert not isinstance(value, bool), f"{name}: {key}: quote booleans in the environment"
    return {key: str(value) for key, value in env.items()}


def settings_class(name: str) -> type[BaseSettings]:
    module, _, cls = SETTINGS[name].rpartition(".")
    found = getattr(importlib.import_module(module), cls)
    assert issubclass(found, BaseSettings)
    return found


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment names ``cls`` reads, upper-cased unless it is case-sensitive."""
    prefix = cls.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(prefix + field_name)
    if cls.model_config.get("case_sensitive", False):
        return names
    return {n.upper() for n in names}


def load_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The settings object the service would build in its container."""
    cls = settings_class(name)
    # Only compose's environment: nothing from the machine running the tests.
    read = env_names(cls)
    for key in list(os.environ):
        if key.upper() in read:
            monkeypatch.delenv(key)
    for key, value in environment(name).items():
        monkeypatch.setenv(key, value)
    return cls()


def port(name: str) -> int:
    return int(environment(name)["PORT"])


def parse_duration(text: str) -> float:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


# --- the compose file -------------------------------------------------------------------------


def test_compose_follows_the_specification():
    document = raw_compose()
    assert "version" not in document, "the Compose Specification has no `version:`"
    expected = {*APP_SERVICES, "migrate", "rabbitmq", "postgres", "redis", LOAD_BALANCER}
    services = document["services"]
    profiled = {
        n for n in OBSERVABILITY & set(services) if services[n].get("profiles") == ["observability"]
    } | {n for n in CLUSTER & set(services) if services[n].get("profiles") == ["cluster"]}
    assert set(services) - profiled == expected
    assert profiled >= CLUSTER


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_package(name):
    assert service(name)["command"] == ["python", "-m", name]
    assert (ROOT / name / "__main__.py").is_file()


def test_migrate_runs_the_migrator_once():
    migrate = service("migrate")
    assert migrate["command"] == ["python", "-m", "shared.migrate"]
    assert 'if __name__ == "__main__":' in (ROOT / "shared" / "migrate.py").read_text()
    assert migrate["restart"] == "no", "a one-shot must not restart after it succeeds"


def test_every_process_of_ours_uses_the_one_image():
    ours = [*APP_SERVICES, "migrate"]
    images = {service(n).get("image") for n in ours}
    builds = [service(n).get("build") for n in ours]
    assert len(images) == 1 and None not in images
    expected = {
        "context": ".",
        "dockerfile": "deploy/Dockerfile",
        "args": {"GIT_COMMIT": ""},  # the commit, when the environment names it
    }
    assert all(b == expected for b in builds)
    assert raw_compose()["x-service"]["build"]["args"] == {"GIT_COMMIT": "${GIT_COMMIT:-}"}


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_environment_names_are_settings_fields(name):
    if name == "migrate":
        from shared.contracts.settings import ServiceSettings

        read = env_names(ServiceSettings)
    else:
        read = env_names(settings_class(name))
    unknown = {key for key in environment(name) if key.upper() not in read}
    assert not unknown, f"{name} sets variables its settings never read: {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_needed_settings_are_set(name):
    missing = {*NEEDS[name], "HOST", "PORT"} - set(environment(name))
    assert not missing, f"{name} would fall back to 127.0.0.1 for {sorted(missing)}"
    assert environment(name)["HOST"] == "0.0.0.0", "a container must listen beyond loopback"


def test_migrate_knows_the_database():
    assert "DATABASE_URL" in environment("migrate")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_load_from_the_compose_environment(name, monkeypatch):
    settings = load_settings(name, monkeypatch)  # raises on a bad value
    assert settings.port == port(name)


def test_services_agree_on_shared_settings(monkeypatch):
    loaded = {name: load_settings(name, monkeypatch) for name in APP_SERVICES}
    for field in AGREED:
        values = {name: getattr(settings, field) for name, settings in loaded.items()}
        assert len(set(values.values())) == 1, f"{field} differs: {values}"
    envs = {name: environment(name) for name in [*APP_SERVICES, "migrate"]}
    # Each service trusts the proxies in front of it, which differ (gateway: the load
    # balancer; auth: the gateways).
    for key in {k for env in envs.values() for k in env} - {"PORT", "FORWARDED_ALLOW_IPS"}:
        values = {n: env[key] for n, env in envs.items() if key in env}
        assert len(set(values.values())) == 1, f"{key} differs: {values}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_healthcheck_probes_readiness_on_the_service_port(name):
    check = service(name)["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"], "the slim image has no curl"
    code = check["test"][3]
    compile(code, f"{name} healthcheck", "exec")
    probed = re.findall(r"http://127\.0\.0\.1:(\d+)/readyz\b", code)
    assert probed == [str(port(name))]


def test_service_urls_use_service_names_and_ports():
    for name in [*APP_SERVICES, "migrate"]:
        for key, target in SERVICE_URLS.items():
            if key not in environment(name):
                continue
            url = urlsplit(environment(name)[key])
            assert (url.scheme, url.hostname, url.port) == ("http", target, port(target)), (
                f"{name}: {key}={environment(name)[key]}"
            )


def test_only_the_load_balancer_publishes_a_port():
    publishing = {n for n, s in compose()["services"].items() if s.get("ports")} - OBSERVABILITY
    assert publishing == {LOAD_BALANCER}
    listen = environment(LOAD_BALANCER)["LB_LISTEN"]
    assert [str(p) for p in service(LOAD_BALANCER)["ports"]] == [f"{port('gateway')}:{listen}"]


def test_the_load_balancer_runs_the_shipped_template_in_front_of_the_gateway():
    lb = service(LOAD_BALANCER)
    assert lb["image"].startswith("nginx:")
    mounts = [str(m).split(":") for m in lb["volumes"]]
    assert mounts == [
        ["./deploy/nginx/default.conf.template", "/etc/nginx/templates/default.conf.template", "ro"]
    ], "the image renders /etc/nginx/templates/*.template at start"
    assert (ROOT / "deploy" / "nginx" / "default.conf.template").is_file()
    env = environment(LOAD_BALANCER)
    assert env["LB_UPSTREAM"] == f"gateway:{port('gateway')}"
    assert env["LB_RESOLVER"] == "127.0.0.11", "Docker's DNS names every replica"
    assert lb["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert lb["restart"] == "unless-stopped"
    assert "container_name" not in lb


def _network() -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network, ipaddress.IPv4Address]:
    """The compose network: its subnet, the range containers get addresses from, its gateway."""
    (config,) = compose()["networks"]["default"]["ipam"]["config"]
    return (
        ipaddress.IPv4Network(config["subnet"]),
        ipaddress.IPv4Network(config["ip_range"]),
        ipaddress.IPv4Address(config["gateway"]),
    )


def test_the_load_balancer_has_a_fixed_address_no_container_can_take():
    subnet, dynamic, bridge = _network()
    assert dynamic.subnet_of(subnet) and bridge in subnet and bridge not in dynamic
    address = ipaddress.IPv4Address(service(LOAD_BALANCER)["networks"]["default"]["ipv4_address"])
    assert address in subnet and address not in dynamic and address != bridge


def test_forwarded_allow_ips_trust_our_proxies_and_nobody_else(monkeypatch):
    subnet, dynamic, bridge = _network()
    lb = ipaddress.IPv4Address(service(LOAD_BALANCER)["networks"]["default"]["ipv4_address"])
    a_container = dynamic[dynamic.num_addresses // 2]  # a gateway replica, or another container
    outsiders = [bridge, ipaddress.IPv4Address("10.1.2.3"), ipaddress.IPv4Address("192.0.2.7")]
    gateway = load_settings("gateway", monkeypatch).forwarded_allow_ips
    # The gateway believes the load balancer only: a client reaching `lb` from a private
    # address (the host comes through the bridge's .1) must not be able to name another client.
    assert gateway.trusts(lb)
    assert not any(gateway.trusts(a) for a in [a_container, *outsiders])
    auth = load_settings("auth_service", monkeypatch).forwarded_allow_ips
    assert auth.trusts(a_container) and auth.trusts(lb)
    assert not any(auth.trusts(a) for a in outsiders)
    assert not auth.trust_all and not gateway.trust_all
    assert all(n.subnet_of(subnet) for n in (*auth.networks, *gateway.networks))


@pytest.mark.parametrize("name", ["gateway", "inventory_service", "order_service"])
def test_services_can_be_scaled(name):
    # `--scale` needs a distinct container name and no fixed host port per replica.
    assert "container_name" not in service(name)
    assert "ports" not in service(name)


@pytest.mark.parametrize("name", sorted(SERVER_URLS))
def test_server_urls_name_the_compose_servers_with_their_credentials(name):
    image, server_port = SERVER_URLS[name]
    users = [n for n in [*APP_SERVICES, "migrate"] if name in environment(n)]
    assert users
    for user in users:
        url = urlsplit(environment(user)[name])
        host = url.hostname
        assert host is not None and host in compose()["services"], f"{user}: {name} -> {host}"
        server = service(host)
        assert server["image"].startswith(image + ":"), f"{user}: {name} is not {image}"
        assert url.port in (None, server_port)
        server_env = environment(host)
        password = unquote(url.password or "")
        if image == "postgres":
            assert unquote(url.username or "") == server_env.get("POSTGRES_USER", "postgres")
            assert password == server_env["POSTGRES_PASSWORD"]
        elif image == "rabbitmq":
            assert unquote(url.username or "") == server_env["RABBITMQ_DEFAULT_USER"]
            assert password == server_env["RABBITMQ_DEFAULT_PASS"]
        else:
            command = server["command"]
            assert password == command[command.index("--requirepass") + 1]


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_start_order(name):
    depends = service(name).get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
    for target, spec in depends.items():
        expected = "service_completed_successfully" if target == "migrate" else "service_healthy"
        assert spec.get("condition") == expected, f"{name} -> {target}"
        if expected == "service_healthy":
            assert "healthcheck" in service(target), f"{target} has no healthcheck"
    env = environment(name)
    for key, value in env.items():
        if key in SERVER_URLS or key in SERVICE_URLS:
            host = urlsplit(value).hostname
            assert host in depends, f"{name} starts before {host} ({key})"
    if "DATABASE_URL" in env and name != "migrate":
        assert "migrate" in depends, f"{name} may start on an old schema"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_restart_and_graceful_stop(name, monkeypatch):
    spec = service(name)
    assert spec["restart"] == "unless-stopped"
    grace = parse_duration(spec["stop_grace_period"])
    # Requests drain for up to shutdown_timeout, then consumers drain for as long again.
    assert grace >= 2 * load_settings(name, monkeypatch).shutdown_timeout


def _named_volume_at(name: str, path: str) -> str:
    for mount in service(name).get("volumes", []):
        source, _, rest = str(mount).partition(":")
        if rest.split(":")[0] == path:
            assert source in (compose().get("volumes") or {}), f"{source} is not a named volume"
            return source
    raise AssertionError(f"{name} keeps {path} in the container only")


def test_servers_keep_their_data_and_report_health():
    for name, path in [
        ("postgres", "/var/lib/postgresql/data"),
        ("rabbitmq", "/var/lib/rabbitmq"),
        ("redis", "/data"),
    ]:
        _named_volume_at(name, path)
        assert service(name)["healthcheck"]["test"]
        assert service(name)["restart"] == "unless-stopped"
    # RabbitMQ names its data directory after the node, and the node after the host name.
    assert service("rabbitmq").get("hostname")


def test_postgres_commits_are_durable_and_need_a_password():
    env = environment("postgres")
    assert env.get("POSTGRES_HOST_AUTH_METHOD", "") != "trust"
    assert env["POSTGRES_PASSWORD"]
    options = " ".join(service("postgres").get("command", []))
    assert "synchronous_commit=on" in options
    assert "fsync=off" not in options


def test_redis_uses_the_shipped_config_and_a_password():
    command = service("redis")["command"]
    config_path = command[1]
    mounts = [str(m).split(":") for m in service("redis")["volumes"]]
    assert ["./deploy/redis.conf", config_path, "ro"] in mounts
    assert command[command.index("--requirepass") + 1]


def test_redis_config_persists_every_write():
    directives: dict[str, str] = {}
    for line in REDIS_CONF.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            directives[words[0].lower()] = " ".join(words[1:])
    assert directives.get("appendonly") == "yes"
    assert directives.get("appendfsync") == "always"
    assert directives.get("maxmemory-policy", "noeviction") == "noeviction"


def test_signing_key_survives_restarts():
    key_file = environment("auth_service")["JWT_PRIVATE_KEY_FILE"]
    _named_volume_at("auth_service", str(PurePosixPath(key_file).parent))


# --- the image --------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile compose builds, continuations joined."""
    build = service("gateway")["build"]
    text = (ROOT / build["context"] / build["dockerfile"]).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def _args(instruction: str) -> list[list[str]]:
    return [shlex.split(args) for keyword, args in dockerfile() if keyword == instruction]


def _exec_form(instruction: str) -> list[Any]:
    """The JSON (exec) form of the last ``instruction``, e.g. CMD ["python", ...]."""
    found = [args for keyword, args in dockerfile() if keyword == instruction]
    assert found, f"the Dockerfile has no {instruction}"
    return list(json.loads(found[-1]))


def test_image_is_python_311_slim():
    assert _args("FROM")[0][0] == "python:3.11-slim"


def test_image_copies_files_that_exist_and_are_in_the_context():
    ignored = [p.strip() for p in DOCKERIGNORE.read_text().splitlines()]
    ignored = [p for p in ignored if p and not p.startswith("#")]
    sources = [src for args in _args("COPY") for src in args[:-1] if not src.startswith("--")]
    for source in sources:
        path = source.rstrip("/")
        assert (ROOT / path).exists(), f"COPY {source}: no such file"
        assert not any(fnmatch(path, pattern) for pattern in ignored), f"{source} is ignored"
    assert {"pyproject.toml", "constraints.txt"} <= set(sources)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {s.rstrip("/") for s in sources}
    assert {p.rstrip("*") for p in packages} <= copied, "a package is missing from the image"


def test_image_installs_runtime_dependencies_at_the_pinned_versions():
    runs = [args for keyword, args in dockerfile() if keyword == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert any(re.search(r"pip install -c constraints\.txt \.(\s|$)", r) for r in installs)
    assert not any("[dev]" in r or " -e " in r for r in installs)


def test_image_runs_unprivileged_without_secrets_or_healthcheck():
    env = dict(pair.split("=", 1) for args in _args("ENV") for pair in args)
    assert env.get("PYTHONUNBUFFERED") == "1"
    users = _args("USER")
    assert users and users[-1][0].split(":")[0] not in ("root", "0")
    keywords = [keyword for keyword, _ in dockerfile()]
    assert "HEALTHCHECK" not in keywords, "compose defines a healthcheck per service"
    names = [*env, *(a[0].split("=")[0] for a in _args("ARG"))]
    secret = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY", re.IGNORECASE)
    assert not [n for n in names if secret.search(n)]


def test_image_exposes_the_service_ports_and_runs_the_gateway_by_default():
    exposed = {int(p) for args in _args("EXPOSE") for p in args}
    assert exposed == {port(n) for n in APP_SERVICES}
    assert _exec_form("CMD") == ["python", "-m", "gateway"]


def test_image_records_the_commit_it_was_built_from():
    from shared.contracts.settings import ServiceSettings

    assert "GIT_COMMIT" in env_names(ServiceSettings)
    instructions = dockerfile()
    arg = instructions.index(("ARG", "GIT_COMMIT="))
    assert ("ENV", "GIT_COMMIT=${GIT_COMMIT}") in instructions[arg:]
    # After every RUN: a new commit must not rebuild the dependency layers.
    assert all(keyword != "RUN" for keyword, _ in instructions[arg:])
    assert "args" in service("gateway")["build"], "compose passes GIT_COMMIT to the build"


def test_build_context_leaves_out_local_state():
    ignored = {p.strip().rstrip("/") for p in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".git", ".data", "tests/artifacts", ".env"} <= ignored
    assert {".mypy_cache", ".ruff_cache", ".pytest_cache", "**/__pycache__"} <= ignored
