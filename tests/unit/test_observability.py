"""Static checks of the observability profile: Prometheus, Grafana and the dashboard.

Like test_compose.py, nothing here runs Docker, Prometheus or Grafana: the files are parsed
and checked against the code, so a renamed metric or label, a changed port or a moved folder
fails here first.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from shared.runtime.metrics import metrics_routes
from tests.unit.test_compose import (
    APP_SERVICES,
    CLUSTER,
    ROOT,
    compose,
    environment,
    load_settings,
    raw_compose,
    service,
)

PROFILE = "observability"
# Service -> image repository; only `docker compose --profile observability up` starts them.
OBSERVABILITY = {"prometheus": "prom/prometheus", "grafana": "grafana/grafana-oss"}
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"
DASHBOARD = DASHBOARDS / "flash-sale.json"

# Where the code defines the metrics its /metrics serves (the default registry).
METRIC_MODULES = (
    "shared.runtime.metrics",
    "shared.runtime.readiness",
    "gateway.metrics",
    "inventory_service.metrics",
    "order_service.metrics",
    "auth_service.metrics",
)
# Announced while the dashboard was written; it already plots them.
ANNOUNCED = {
    "sse_streams_open": ("gateway.metrics", "gauge", {"stream"}),
    "intent_queue_depth": ("inventory_service.metrics", "gauge", {"partition"}),
    "intent_queue_consumers": ("inventory_service.metrics", "gauge", {"partition"}),
    "dead_letter_queue_depth": ("inventory_service.metrics", "gauge", set()),
}
# What the dashboard must plot (the panels the operators asked for), by series name.
REQUIRED_SERIES = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "gateway_intents_published_total",
    "gateway_publish_batch_size_bucket",
    "inventory_decisions_total",
    "inventory_decision_batch_size_bucket",
    "intent_queue_depth",
    "intent_queue_consumers",
    "orders_outcomes_persisted_total",
    "orders_db_write_seconds_bucket",
    "inventory_poison_messages_total",
    "orders_poison_messages_total",
    "dead_letter_queue_depth",
    "sse_streams_open",
}
# Series Prometheus writes itself for every target, and the labels it adds to every series.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"job", "instance"}
SCRAPE_INTERVAL = "5s"


# --- helpers ----------------------------------------------------------------------------------


def observability_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if n in OBSERVABILITY}


def mounts(name: str) -> dict[str, str]:
    """Container path -> source of each volume of a service (short syntax)."""
    found = {}
    for mount in service(name).get("volumes", []):
        source, target, *_ = str(mount).split(":")
        found[target] = source
    return found


def bind_mount_of(name: str, host_path: Path) -> str:
    """The container path where ``host_path`` (in the repository) is mounted."""
    for target, source in mounts(name).items():
        if source.startswith(".") and (ROOT / source).resolve() == host_path.resolve():
            return target
    raise AssertionError(f"{name} does not mount {host_path.relative_to(ROOT)}")


def flag(name: str, option: str) -> str | None:
    """The value of ``--option=value`` in a service's command, if given."""
    for word in service(name).get("command", []):
        key, _, value = str(word).partition("=")
        if key == option:
            return value
    return None


@cache
def prometheus_config() -> dict[str, Any]:
    document = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert isinstance(document, dict)
    return document


def scrape_jobs() -> dict[str, dict[str, Any]]:
    jobs = [job["job_name"] for job in prometheus_config()["scrape_configs"]]
    assert len(jobs) == len(set(jobs)), f"a job is given twice: {jobs}"
    return {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}


def provisioning_files(kind: str) -> list[dict[str, Any]]:
    files = sorted((PROVISIONING / kind).glob("*.y*ml"))
    assert files, f"no provisioning file in {(PROVISIONING / kind).relative_to(ROOT)}"
    return [yaml.safe_load(f.read_text()) for f in files]


def provisioned_datasource() -> dict[str, Any]:
    sources = [s for doc in provisioning_files("datasources") for s in doc["datasources"]]
    prometheus = [s for s in sources if s["type"] == "prometheus"]
    assert len(prometheus) == 1, f"expected one Prometheus datasource, got {prometheus}"
    return prometheus[0]


@cache
def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text())
    assert isinstance(document, dict)
    return document


def panels(node: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel, also those inside collapsed rows."""
    for panel in (dashboard() if node is None else node).get("panels", []):
        yield panel
        yield from panels(panel)


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in panels()
        for target in panel.get("targets", [])
    ]


# --- what the code defines --------------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
}


@dataclass(frozen=True)
class Metric:
    family: str  # the name after `# TYPE`
    kind: str
    labels: frozenset[str]
    module: str

    def series(self) -> set[str]:
        """The sample names Prometheus stores (`_created` left out: nothing should plot it)."""
        return {self.family + suffix for suffix in _SUFFIXES[self.kind]}


@cache
def defined_metrics() -> dict[str, Metric]:
    """Series name -> metric, for the metrics METRIC_MODULES register in the default registry."""
    modules = {name: importlib.import_module(name) for name in METRIC_MODULES}
    served = {family.name for family in REGISTRY.collect()}  # what /metrics serves
    found: dict[str, Metric] = {}
    for module_name, module in modules.items():
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            (family,) = value.describe()
            assert family.name in served, (
                f"{module_name}: {family.name} is not in the default registry, /metrics omits it"
            )
            metric = Metric(family.name, family.type, frozenset(value._labelnames), module_name)
            found.update(dict.fromkeys(metric.series(), metric))
    return found


def announced_missing() -> dict[str, str]:
    """Announced metric -> what is wrong with it, for those not (yet) defined as announced."""
    metrics = {m.family: m for m in defined_metrics().values()}
    problems = {}
    for name, (module, kind, labels) in ANNOUNCED.items():
        metric = metrics.get(name)
        if metric is None:
            problems[name] = f"not defined (expected a {kind} in {module})"
        elif (metric.kind, set(metric.labels)) != (kind, labels):
            problems[name] = (
                f"a {metric.kind} with labels {sorted(metric.labels)} in {metric.module},"
                f" expected a {kind} with labels {sorted(labels)}"
            )
    return problems


# --- PromQL, as far as these checks need it ---------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_RANGE = re.compile(r"\[[^\]]*\]")  # ranges, subqueries, Grafana's $__rate_interval
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"(?<![\w$.:])([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
# A name not followed by "(" (a function or an aggregation) and not inside a number.
_NAME = re.compile(r"(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_COUNTING = re.compile(r"\b(?:rate|irate|increase)\s*\(\s*$")


@dataclass
class Query:
    names: list[tuple[str, int]]  # metric name and its position in `stripped`
    matchers: list[tuple[str, set[str]]]  # selector's metric name, its label names
    grouping: set[str]  # labels named in by/without/on/ignoring/group_*
    stripped: str  # the expression without strings, ranges, groupings and matchers


def parse(expr: str) -> Query:
    """The metric and label names a PromQL expression uses."""
    text = _RANGE.sub("", _STRING.sub('""', expr))
    grouping = {
        label.strip() for group in _GROUPING.findall(text) for label in group.split(",")
    } - {""}
    text = _GROUPING.sub("", text)
    matchers = []
    for match in _SELECTOR.finditer(text):
        assert match[1], f"name the metric, not {{__name__=...}}: {expr}"
        matchers.append((match[1], set(_MATCHER.findall(match[2]))))
    text = re.sub(r"\{[^}]*\}", "", text)
    names = [(m[1], m.start()) for m in _NAME.finditer(text) if m[1] not in _KEYWORDS]
    return Query(names, matchers, grouping, text)


def undefined_series(queries: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Series name -> titles of the queries that use it, for names no metric defines.

    ``queries`` are (title, PromQL): the dashboard's panels here, the alert rules in
    test_alert_rules.py.
    """
    defined = defined_metrics()
    unknown: dict[str, set[str]] = {}
    for title, expr in queries:
        names = {name for name, _ in parse(expr).names}
        assert names, f"{title}: no metric found in {expr}"
        for name in names - set(defined) - PROMETHEUS_SERIES:
            unknown.setdefault(name, set()).add(title)
    return unknown


def labels_of(name: str) -> set[str]:
    """The labels a stored series of ``name`` can have."""
    defined = defined_metrics()
    own = set(defined[name].labels) if name in defined else set()
    return own | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())


def check_labels(title: str, expr: str) -> None:
    """Every label a query matches on or groups by is one of its metrics' labels."""
    query = parse(expr)
    names = {name for name, _ in query.names}
    if names - set(defined_metrics()) - PROMETHEUS_SERIES:
        return  # undefined_series() reports it
    for name, labels in query.matchers:
        assert labels <= labels_of(name), f"{title}: {name} has no {labels - labels_of(name)}"
    known = set().union(*(labels_of(name) for name in names))
    assert query.grouping <= known, f"{title}: no metric has {query.grouping - known}"


def check_counting(title: str, expr: str) -> None:
    """Counters and histograms go through rate()/increase(), gauges do not."""
    defined = defined_metrics()
    query = parse(expr)
    for name, at in query.names:
        metric = defined.get(name)
        if metric is None:
            continue
        counted = bool(_COUNTING.search(query.stripped[:at]))
        if metric.kind in {"counter", "histogram"}:
            assert counted, f"{title}: {name} is a running total, plot its rate"
        else:
            assert not counted, f"{title}: rate() of the gauge {name} means nothing"
    if "histogram_quantile" in expr:
        assert "le" in query.grouping, f"{title}: histogram_quantile needs `by (le, ...)`"


def test_the_promql_reader_finds_names_and_labels():
    # If this reader saw nothing, the checks below would pass vacuously.
    query = parse(
        'histogram_quantile(0.99, sum by (le, job) (rate(a_seconds_bucket{route!~"/x|{y}"}'
        "[$__rate_interval] offset 5m))) / on(job) group_left(x) (b_total * 1e3 > bool 0x1f)"
        ' or label_replace(up, "dst", "$1", "src", "(.*)")'
    )
    assert [n for n, _ in query.names] == ["a_seconds_bucket", "b_total", "up"]
    assert query.matchers == [("a_seconds_bucket", {"route"})]
    assert query.grouping == {"le", "job", "x"}


# --- the compose services ---------------------------------------------------------------------


def test_observability_services_exist_only_under_their_profile():
    services = compose()["services"]
    assert set(OBSERVABILITY) <= set(services)
    for name, spec in services.items():
        if name in OBSERVABILITY:
            assert spec.get("profiles") == [PROFILE], f"{name} must start only with the profile"
        elif name in CLUSTER:
            assert spec.get("profiles") == ["cluster"], f"{name} is a cluster profile server"
        else:
            # A profile on any other service would drop it from a plain `docker compose up`.
            assert "profiles" not in spec, f"{name} has a profile"


@pytest.mark.parametrize("name", sorted(OBSERVABILITY))
def test_observability_images_are_pinned(name):
    image, _, tag = service(name)["image"].partition(":")
    assert image == OBSERVABILITY[name]
    assert tag and tag != "latest", f"{name}: pin a version"


def test_ports_are_published_on_loopback_only():
    # Grafana has a default admin password and Prometheus no authentication.
    listens = {
        "prometheus": int((flag("prometheus", "--web.listen-address") or ":9090").rsplit(":")[-1]),
        "grafana": int(environment("grafana").get("GF_SERVER_HTTP_PORT", "3000")),
    }
    for name, port in listens.items():
        assert service(name)["ports"] == [f"127.0.0.1:{port}:{port}"], name


def test_observability_data_is_kept_in_named_volumes():
    data = {
        "prometheus": flag("prometheus", "--storage.tsdb.path") or "/prometheus",
        "grafana": environment("grafana").get("GF_PATHS_DATA", "/var/lib/grafana"),
    }
    for name, path in data.items():
        source = mounts(name).get(path)
        assert source, f"{name} keeps {path} in the container only"
        assert source in (compose().get("volumes") or {}), f"{name}: {source} is not named"


def test_grafana_is_open_to_viewers_and_takes_its_admin_password_from_the_environment():
    env = environment("grafana")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env.get("GF_USERS_ALLOW_SIGN_UP") == "false"
    raw = raw_compose()["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:-[^}]+\}", raw), raw


# --- Prometheus -------------------------------------------------------------------------------


def test_prometheus_reads_the_config_in_the_repository():
    config_file = flag("prometheus", "--config.file") or "/etc/prometheus/prometheus.yml"
    assert bind_mount_of("prometheus", PROMETHEUS_CONFIG) == config_file


def test_prometheus_scrapes_exactly_the_four_services_every_5s():
    assert set(scrape_jobs()) == set(APP_SERVICES)
    assert prometheus_config()["global"]["scrape_interval"] == SCRAPE_INTERVAL
    for name, job in scrape_jobs().items():
        assert job.get("scrape_interval", SCRAPE_INTERVAL) == SCRAPE_INTERVAL, name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_prometheus_finds_every_replica_on_the_service_port(name, monkeypatch):
    job = scrape_jobs()[name]
    discovery = {key for key in job if key.endswith("_configs")} - {
        "relabel_configs",
        "metric_relabel_configs",
    }
    # DNS, not a fixed list: an A query on the service name answers every replica.
    assert discovery == {"dns_sd_configs"}, f"{name}: {sorted(discovery)}"
    (dns,) = job["dns_sd_configs"]
    assert dns["names"] == [name] and name in compose()["services"]
    assert dns.get("type") == "A"
    # The port the service listens on in its container: compose's PORT over the default.
    settings = load_settings(name, monkeypatch)
    assert dns["port"] == settings.port, f"{name} listens on {settings.port}"
    assert job.get("scheme", "http") == "http"
    assert job.get("metrics_path", "/metrics") in {r.path for r in metrics_routes({})}


def test_relabelling_keeps_job_and_instance():
    # `instance` (address:port of one replica) is what tells replicas apart.
    for name, job in scrape_jobs().items():
        for rule in [*job.get("relabel_configs", []), *job.get("metric_relabel_configs", [])]:
            assert rule.get("target_label") not in TARGET_LABELS, f"{name}: {rule}"
            assert rule.get("action") not in {"labeldrop", "labelkeep", "labelmap"}, name


# --- Grafana provisioning ---------------------------------------------------------------------


def test_grafana_provisioning_folder_is_mounted():
    provisioning = environment("grafana").get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    assert bind_mount_of("grafana", PROVISIONING) == provisioning


def test_dashboard_providers_point_at_the_mounted_dashboards():
    mounted = PurePosixPath(bind_mount_of("grafana", DASHBOARDS))
    providers = [p for doc in provisioning_files("dashboards") for p in doc["providers"]]
    assert providers
    for provider in providers:
        assert provider.get("type", "file") == "file"
        assert PurePosixPath(provider["options"]["path"]) == mounted, provider["name"]
    home = environment("grafana").get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        relative = PurePosixPath(home).relative_to(mounted)
        assert (DASHBOARDS / relative).is_file(), f"home dashboard {home} is not shipped"


def test_datasource_is_the_compose_prometheus_with_a_fixed_uid():
    source = provisioned_datasource()
    assert source["uid"], "dashboards find the datasource by uid"
    url = source["url"]
    match = re.fullmatch(r"http://([\w.-]+):(\d+)/?", url)
    assert match, url
    assert service(match[1])["image"].startswith("prom/prometheus:")
    assert int(match[2]) == int(service("prometheus")["ports"][0].rsplit(":")[-1])
    assert source.get("jsonData", {}).get("timeInterval") == SCRAPE_INTERVAL


# --- the dashboard ----------------------------------------------------------------------------


def test_dashboards_are_valid_json_with_distinct_uids():
    uids = [json.loads(p.read_text())["uid"] for p in sorted(DASHBOARDS.glob("*.json"))]
    assert uids and all(uids) and len(uids) == len(set(uids)), uids


def test_dashboard_shape():
    board = dashboard()
    assert board["title"] == "Flash sale"
    assert board["refresh"] == "5s"
    assert isinstance(board["schemaVersion"], int) and 36 <= board["schemaVersion"] <= 41
    assert 0 < len(board["uid"]) <= 40
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids)), "panel ids must be distinct"
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:  # those in a collapsed row are laid out when it opens
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
    for panel in panels():
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_every_panel_uses_the_provisioned_datasource():
    uid = provisioned_datasource()["uid"]
    for panel in panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        for target in panel["targets"]:
            source = target.get("datasource", panel["datasource"])
            assert source == {"type": "prometheus", "uid": uid}, panel["title"]


def test_announced_metrics_are_defined():
    missing = announced_missing()
    assert not missing, "announced metrics the code does not define yet:\n" + "\n".join(
        f"  {name}: {problem}" for name, problem in sorted(missing.items())
    )


def test_dashboard_plots_only_metrics_the_code_defines():
    unknown = undefined_series(queries())
    announced = sorted(set(unknown) & set(announced_missing()))
    assert not unknown, (
        f"the dashboard plots series that no metric in {', '.join(METRIC_MODULES)} defines:\n"
        + "\n".join(f"  {name} (in {', '.join(sorted(t))})" for name, t in sorted(unknown.items()))
        + (f"\n  of which announced but not defined yet: {announced}" if announced else "")
    )


def test_dashboard_uses_only_labels_the_metrics_have():
    for title, expr in queries():
        check_labels(title, expr)


def test_counters_are_rated_and_gauges_are_not():
    for title, expr in queries():
        check_counting(title, expr)


def test_dashboard_has_the_panels_operators_need():
    plotted = {name for _, expr in queries() for name, _ in parse(expr).names}
    assert not REQUIRED_SERIES - plotted, f"no panel plots {sorted(REQUIRED_SERIES - plotted)}"
