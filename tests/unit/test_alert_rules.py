"""The alert rules of deploy/prometheus/alerts.yml, checked with the real promtool.

promtool accepts the rules and the Prometheus config that loads them; the unit tests of
alerts_test.yml pass, and for every alert they hold a case that fires it and a case that must
not (each shown to catch an alert broken the other way); every metric and label an alert
names is one the code defines; every alert has a duration, a severity and annotations, and
its runbook section in docs/ALERTS.md exists. Nothing starts Prometheus.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_compose import ROOT
from tests.unit.test_observability import (
    bind_mount_of,
    check_counting,
    check_labels,
    mounts,
    parse,
    prometheus_config,
    scrape_jobs,
    undefined_series,
)

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
RUNBOOKS = ROOT / "docs" / "ALERTS.md"
INSTALL = "install Debian's prometheus package: apt-get install -y prometheus"

SEVERITIES = {"page", "ticket"}
ANNOTATIONS = {"summary", "description", "runbook"}
RUNBOOK_PARTS = ("**Means**", "**Check**", "**Do**")
# What the alerts must watch (issue "Ready for a real deployment", section 4), by series name.
REQUIRED_SERIES = {
    "up",
    "service_dependency_up",
    "intent_queue_consumers",
    "intent_queue_depth",
    "dead_letter_queue_depth",
    "http_requests_total",
    "auth_logins_total",
    "auth_bcrypt_shed_total",
}
# Stand-ins for a broken alert: one that fires whatever the input, one that never does.
ALWAYS = "vector(1)"
NEVER = "vector(0) > 0"
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")


# --- helpers ----------------------------------------------------------------------------------


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    if executable is None:
        pytest.fail(INSTALL)
    return subprocess.run(
        [executable, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"promtool exited with {result.returncode}:\n{result.stdout}{result.stderr}"


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path.relative_to(ROOT)} is not a mapping"
    return document


@cache
def rule_groups() -> list[dict[str, Any]]:
    groups = load_yaml(RULES)["groups"]
    assert isinstance(groups, list)
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def alert(name: str) -> dict[str, Any]:
    (found,) = [rule for rule in alerts() if rule["alert"] == name]
    return found


def alert_names() -> list[str]:
    return [rule["alert"] for rule in alerts()]


def anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """Second-level heading -> its text, of docs/ALERTS.md."""
    parts = re.split(r"^## (.+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", duration))


def unit_tests_of(name: str, *, firing: bool, after: str = "0s") -> dict[str, Any]:
    """alerts_test.yml cut down to the evaluations of one alert, later than ``after``, that
    expect it to fire (or to stay quiet), against a rules file holding that alert only."""
    document = copy.deepcopy(load_yaml(RULE_TESTS))
    groups = []
    for group in document["tests"]:
        kept = [
            check
            for check in group.get("alert_rule_test", [])
            if check["alertname"] == name
            and bool(check.get("exp_alerts")) == firing
            and seconds(check["eval_time"]) > seconds(after)
        ]
        if kept:
            groups.append({**group, "alert_rule_test": kept, "promql_expr_test": []})
    document["tests"] = groups
    document["rule_files"] = ["alerts.yml"]
    return document


def run_unit_tests(
    directory: Path, tests: dict[str, Any], rule: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    directory.mkdir()
    rules = {"groups": [{"name": "under-test", "rules": [rule]}]}
    (directory / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (directory / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return promtool("test", "rules", directory / "alerts_test.yml")


# --- promtool ---------------------------------------------------------------------------------


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, output(result)
    rules = sum(len(group["rules"]) for group in rule_groups())
    assert f"SUCCESS: {rules} rules found" in result.stdout, output(result)


def test_prometheus_loads_the_rules_where_compose_mounts_them():
    assert prometheus_config().get("rule_files") == [bind_mount_of("prometheus", RULES)]


def test_promtool_accepts_the_prometheus_config_with_its_rules(tmp_path):
    # The config names the rules by their path in the container: map it back to the
    # repository through the compose mounts, as Prometheus would find them.
    config = copy.deepcopy(prometheus_config())
    rule_files = []
    for path in config.get("rule_files", []):
        source = mounts("prometheus").get(path)
        assert source and source.startswith("."), f"compose mounts nothing at {path}"
        rule_files.append(str((ROOT / source).resolve()))
    assert rule_files, "prometheus.yml loads no rule file"
    config["rule_files"] = rule_files
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    result = promtool("check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, output(result)
    rules = sum(len(group["rules"]) for group in rule_groups())
    assert f"SUCCESS: {rules} rules found" in result.stdout, output(result)


def test_alert_unit_tests_pass():
    (rules,) = load_yaml(RULE_TESTS)["rule_files"]
    assert (RULE_TESTS.parent / rules).resolve() == RULES, "alerts_test.yml tests other rules"
    result = promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, output(result)


@pytest.mark.parametrize("name", alert_names())
def test_unit_tests_show_when_each_alert_fires_and_when_it_must_not(name, tmp_path):
    rule = alert(name)
    firing = unit_tests_of(name, firing=True)
    # Quiet before its `for:` has passed shows the delay, not that the expression is right.
    quiet = unit_tests_of(name, firing=False, after=rule["for"])
    for kind, tests in (("fires", firing), ("stays quiet", quiet)):
        result = run_unit_tests(tmp_path / kind.replace(" ", "-"), tests, rule)
        assert result.returncode == 0, f"the cases where {name} {kind}: {output(result)}"

    broken = run_unit_tests(tmp_path / "never", firing, {**rule, "expr": NEVER})
    assert broken.returncode != 0, (
        f"alerts_test.yml has no case that {name} must fire on: one that never fires passes"
    )
    broken = run_unit_tests(tmp_path / "always", quiet, {**rule, "expr": ALWAYS})
    assert broken.returncode != 0, (
        f"alerts_test.yml has no case, later than its `for: {rule.get('for')}`, where {name}"
        " must stay quiet: one that always fires passes"
    )


# --- what the alerts name ---------------------------------------------------------------------


def test_alerts_use_only_metrics_the_code_defines():
    unknown = undefined_series([(rule["alert"], rule["expr"]) for rule in alerts()])
    assert not unknown, "alerts on series that no metric of the code defines:\n" + "\n".join(
        f"  {name} (in {', '.join(sorted(names))})" for name, names in sorted(unknown.items())
    )


def test_alerts_use_only_labels_the_metrics_have_and_rate_only_counters():
    for rule in alerts():
        check_labels(rule["alert"], rule["expr"])
        check_counting(rule["alert"], rule["expr"])


def test_alerts_watch_what_operators_asked_for():
    watched = {name for rule in alerts() for name, _ in parse(rule["expr"]).names}
    assert not REQUIRED_SERIES - watched, f"no alert on {sorted(REQUIRED_SERIES - watched)}"


def test_service_down_watches_every_scrape_job():
    # `up` has no series for a job whose replicas DNS cannot find: absent() must name each.
    named = set(re.findall(r'absent\(\s*up\{job="([^"]+)"\}\s*\)', alert("ServiceDown")["expr"]))
    assert named == set(scrape_jobs())


# --- what an operator gets --------------------------------------------------------------------


def test_every_alert_has_a_duration_a_severity_and_annotations():
    names = alert_names()
    assert len(names) == len(set(names)), f"an alert name is used twice: {names}"
    for rule in alerts():
        name = rule["alert"]
        duration = str(rule.get("for", ""))
        assert _DURATION.fullmatch(duration) and seconds(duration) > 0, f"{name}: for: {duration}"
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
        annotations = rule.get("annotations", {})
        missing = {key for key in ANNOTATIONS if not str(annotations.get(key, "")).strip()}
        assert not missing, f"{name} has no {sorted(missing)}"


def test_every_runbook_is_a_section_of_the_alerts_doc():
    headings = {anchor(heading): heading for heading in runbook_sections()}
    for rule in alerts():
        runbook = rule["annotations"]["runbook"]
        path, _, fragment = runbook.partition("#")
        assert path == str(RUNBOOKS.relative_to(ROOT)), f"{rule['alert']}: {runbook}"
        assert headings.get(fragment) == rule["alert"], (
            f"{rule['alert']}: docs/ALERTS.md has no section '## {rule['alert']}' for {runbook}"
        )


def test_the_alerts_doc_has_one_complete_section_per_alert():
    sections = runbook_sections()
    assert sorted(sections) == sorted(alert_names()), "a section per alert, and no other"
    for heading, text in sections.items():
        missing = [part for part in RUNBOOK_PARTS if part not in text]
        assert not missing, f"docs/ALERTS.md, {heading}: no {', '.join(missing)}"
