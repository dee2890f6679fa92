"""`make run` checks its servers before starting anything; a cluster needs one live node."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from shared.runtime.launcher import ROOT
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


def run_local() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_local", ROOT / "deploy" / "run_local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_live_node_of_a_cluster_is_enough(servers):
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    env = {
        "AMQP_URL": f"{dead},{servers.amqp_url}",
        "DATABASE_URL": servers.postgres_url,
        "REDIS_URL": servers.redis_url,
    }
    run_local().check_servers(env)  # returns: nothing to report


def test_no_live_node_stops_it_naming_the_variable(servers):
    dead = [f"amqp://guest:guest@127.0.0.1:{free_port()}/" for _ in range(2)]
    env = {"AMQP_URL": ",".join(dead), "DATABASE_URL": servers.postgres_url}
    env["REDIS_URL"] = servers.redis_url
    with pytest.raises(SystemExit, match=r"RabbitMQ at .* \(AMQP_URL\)"):
        run_local().check_servers(env)
