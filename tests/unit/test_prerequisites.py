"""deploy/prerequisites.py decides what to install, or which command to tell, without I/O."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    # deploy/ is not a package: the script runs with the system python3, before the venv.
    spec = importlib.util.spec_from_file_location("prerequisites", ROOT / "deploy/prerequisites.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


prerequisites = _load()
NEEDED = prerequisites.requirements({})
EVERYTHING = {path for r in NEEDED for path in r.paths}


def lacking(*absent):
    return prerequisites.missing(NEEDED, lambda path: path in EVERYTHING - set(absent))


def test_the_suite_needs_these_debian_packages_at_these_paths():
    assert {r.package: r.paths for r in NEEDED} == {
        "chromium": ("/usr/bin/chromium",),
        "nginx": ("/usr/sbin/nginx",),
        "prometheus": ("/usr/bin/promtool",),
        "redis-server": ("/usr/bin/redis-server",),
        "redis-tools": ("/usr/bin/redis-cli",),
        "rabbitmq-server": ("/usr/lib/rabbitmq/bin/rabbitmq-server",),
        "postgresql": (
            "/usr/lib/postgresql/*/bin/initdb",
            "/usr/lib/postgresql/*/bin/postgres",
            "/usr/lib/postgresql/*/bin/pg_ctl",
        ),
    }


def test_chromium_is_looked_for_where_the_browser_tests_look():
    needed = prerequisites.requirements({"CHROMIUM_PATH": "/opt/chromium/chrome"})
    assert needed[0].package == "chromium"
    assert needed[0].paths == ("/opt/chromium/chrome",)


def test_everything_present_goes_on_quietly():
    assert lacking() == []
    for root in (True, False):
        decision = prerequisites.decide([], root=root, check_only=False)
        assert (decision.status, decision.install, decision.message) == (0, (), "")


def test_one_missing_server_binary_asks_for_its_package():
    assert [r.package for r in lacking("/usr/lib/postgresql/*/bin/pg_ctl")] == ["postgresql"]


def test_root_installs_only_the_missing_packages_in_order():
    decision = prerequisites.decide(
        lacking("/usr/sbin/nginx", "/usr/bin/chromium"), root=True, check_only=False
    )
    assert (decision.status, decision.install, decision.message) == (0, ("chromium", "nginx"), "")


def test_not_root_stops_with_the_sudo_command_for_the_missing_packages():
    decision = prerequisites.decide(
        lacking("/usr/bin/promtool", "/usr/bin/chromium"), root=False, check_only=False
    )
    assert decision.status == 1
    assert decision.install == ()
    assert decision.message.splitlines()[-1] == "  sudo apt-get install -y chromium prometheus"
    assert "/usr/bin/promtool is missing" in decision.message
    assert "nginx" not in decision.message


def test_check_only_never_installs_and_root_needs_no_sudo():
    decision = prerequisites.decide(lacking("/usr/sbin/nginx"), root=True, check_only=True)
    assert (decision.status, decision.install) == (1, ())
    assert decision.message.splitlines()[-1] == "  apt-get install -y nginx"


@pytest.mark.parametrize(("still_absent", "status"), [((), 0), (("/usr/sbin/nginx",), 1)])
def test_root_installs_then_checks_again(monkeypatch, capsys, still_absent, status):
    found = iter([lacking("/usr/sbin/nginx"), lacking(*still_absent)])
    installed: list[tuple[str, ...]] = []
    monkeypatch.setattr(prerequisites, "missing", lambda needed: next(found))
    monkeypatch.setattr(prerequisites, "apt_install", installed.append)
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 0)

    assert prerequisites.main([]) == status
    assert installed == [("nginx",)]
    assert ("apt-get install -y nginx" in capsys.readouterr().err) is bool(status)


def test_check_only_as_root_exits_1_without_installing(monkeypatch, capsys):
    absent = lacking("/usr/bin/chromium")
    monkeypatch.setattr(prerequisites, "missing", lambda needed: absent)
    monkeypatch.setattr(prerequisites, "apt_install", pytest.fail)
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 0)

    assert prerequisites.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "  apt-get install -y chromium"
