"""The observability files: the collector's pipelines and PHI scrubbing, Prometheus's scrape
configuration (promtool, then a real Prometheus scraping the real services), and Grafana's
provisioning and dashboard, whose every metric must be one the services export.

Prometheus and promtool come from Debian's `prometheus` package (.ci/run installs it). A
Prometheus the package may have started on 9090 is never used: ours listens on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from bench.servers import http_service, stop_server
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bi_agent.infra import migrations, telemetry
from bi_agent.infra.ports import free_port
from bi_agent.ml_service.app import create_app as create_ml_app
from tests.analytics_api.conftest import open_api
from tests.conftest import EmbeddedStack, unavailable

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"
COLLECTOR_CONFIG = OBSERVABILITY / "otel-collector-config.yml"
PROMETHEUS_CONFIG = OBSERVABILITY / "prometheus.yml"
GRAFANA = OBSERVABILITY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "platform.json"

HOST = "127.0.0.1"

# Where each job of prometheus.yml scrapes in the compose network.
SCRAPE_TARGETS = {
    "prometheus": "localhost:9090",
    "otel-collector": "otel-collector:8888",
    "otel-collector-metrics": "otel-collector:8889",
    "analytics-api": "analytics-api:3000",
    "ml-service": "ml-service:8000",
    "celery-worker": "celery-worker:9808",
}

DASHBOARD_PANELS = {
    "Services up",
    "Request rate per route",
    "Errors per route",
    "p50 latency per route",
    "p95 latency per route",
    "Cache hit ratio",
    "Rows imported",
    "Tasks by state",
    "Task duration",
    "Predictions",
}

# Series Prometheus makes itself for every target, not exported by any service.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

# PromQL words that look like metric names once strings, labels and ranges are gone.
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- PromQL --------------------------------------------------------------------------------


def metric_names(expression: str) -> set[str]:
    """The metric names an expression reads: what is left once strings, label matchers,
    ranges, grouping clauses, Grafana variables, numbers and function calls are removed."""
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    rest = re.sub(r"\$\{[^}]*\}|\$\w+", "", rest)
    rest = re.sub(r"\{[^}]*\}", " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", rest)
    tokens = re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*\b(?!\s*\()", rest)
    return {token for token in tokens if token.lower() not in PROMQL_WORDS}


def test_metric_names_reads_only_metric_names() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (service, route, le) (rate(a_seconds_bucket{route!="/x"}[$__rate_interval])))'
        ' / on (job) group_left (service) sum without (x) (b_total offset 5m) * 1e-3 + up{job=~"a|b"}'
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_total", "up"}


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", []) if "expr" in target]


def grouping_labels(expression: str) -> set[str]:
    """Labels an expression groups by or matches on."""
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    labels = {
        label.strip()
        for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", rest)
        for label in clause.split(",")
        if label.strip()
    }
    labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", " ".join(re.findall(r"\{([^}]*)\}", rest))))
    return labels


def test_grouping_labels_reads_by_clauses_and_matchers() -> None:
    expression = 'sum by (service, le) (rate(a_bucket{route!="/x", job=~"a|b"}[1m])) / sum(b_total{outcome="hit"})'
    assert grouping_labels(expression) == {"service", "le", "route", "job", "outcome"}


def sample_labels(exposition: str) -> dict[str, set[str]]:
    """The label names each series carries, for the series that have samples."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def exported_series(exposition: str) -> set[str]:
    """Every series name an exposition can carry, with or without samples yet: a labelled
    counter or histogram nobody has counted in is described (HELP, TYPE) but has no samples."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


# --- Collector -----------------------------------------------------------------------------


def test_collector_pipelines_use_only_defined_components() -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            undefined = set(pipeline[kind]) - set(config[kind])
            assert not undefined, f"pipeline {name} names undefined {kind}: {undefined}"
        # memory_limiter must see data first to refuse it; batch last, to batch what is exported.
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
        assert pipeline["receivers"] == ["otlp"]
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["extensions"]["health_check"]["endpoint"].endswith(":13133")
    assert config["extensions"]["zpages"]["endpoint"].endswith(":55679")
    assert config["service"]["telemetry"]["metrics"]["address"] == "0.0.0.0:8888"


def test_collector_sends_traces_to_jaeger_over_otlp_and_metrics_to_prometheus() -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    exporters = config["exporters"]
    # The `jaeger` exporter was removed in v0.85.0: the 0.91.0 image refuses a config naming it.
    assert not [name for name in exporters if name.split("/")[0] == "jaeger"]
    assert exporters["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert exporters["otlp/jaeger"]["tls"]["insecure"] is True
    assert exporters["prometheus"]["endpoint"] == "0.0.0.0:8889"
    pipelines = config["service"]["pipelines"]
    assert "otlp/jaeger" in pipelines["traces"]["exporters"]
    assert "prometheus" in pipelines["metrics"]["exporters"]
    assert "debug" in exporters


def deleted_by_attributes_processor(processor: dict[str, Any], key: str) -> bool:
    return any(
        action["action"] == "delete"
        and (action.get("key") == key or ("pattern" in action and re.fullmatch(action["pattern"], key)))
        for action in processor["actions"]
    )


def test_collector_deletes_attributes_that_can_hold_phi() -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    for name, pipeline in config["service"]["pipelines"].items():
        attribute_processors = [
            config["processors"][processor]
            for processor in pipeline["processors"]
            if processor.split("/")[0] == "attributes"
        ]
        for key in (
            "enduser.id",
            "enduser.role",
            "user.name",
            "http.request.header.authorization",
            "http.request.header.x_purpose",
            "http.response.header.set_cookie",
            "url.query",
            "http.client_ip",
            "client.address",
        ):
            assert any(deleted_by_attributes_processor(p, key) for p in attribute_processors), (
                f"pipeline {name} keeps {key}"
            )


# An OTTL `replace_pattern(attributes["key"], "regex", "replacement") [where attributes["k"] ==|!= "v"]`.
REPLACE_PATTERN = re.compile(
    r'replace_pattern\(attributes\["(?P<key>[^"]+)"\], '
    r'"(?P<regex>(?:[^"\\]|\\.)*)", "(?P<replacement>(?:[^"\\]|\\.)*)"\)'
    r'(?: where attributes\["(?P<when_key>[^"]+)"\] (?P<op>==|!=) "(?P<when_value>[^"]*)")?$'
)


def scrub_span(config: dict[str, Any], attributes: dict[str, str]) -> dict[str, str]:
    """The span-context replace_pattern statements of the transform processors, applied in order
    with Python's re (the patterns use only what RE2 and re read alike)."""
    scrubbed = dict(attributes)
    for name, processor in config["processors"].items():
        if name.split("/")[0] != "transform":
            continue
        for group in processor.get("trace_statements", []):
            if group["context"] != "span":
                continue
            for statement in group["statements"]:
                match = REPLACE_PATTERN.match(statement)
                if match is None or match["key"] not in scrubbed:
                    continue
                if match["op"] is not None:
                    value = scrubbed.get(match["when_key"])
                    if (value == match["when_value"]) != (match["op"] == "=="):
                        continue
                # OTTL strings unescape backslashes; the collector reads `$$` as a literal `$`.
                regex = match["regex"].replace("\\\\", "\\")
                replacement = re.sub(r"\$(\d+)", r"\\g<\1>", match["replacement"].replace("$$", "$"))
                scrubbed[match["key"]] = re.sub(regex, replacement, scrubbed[match["key"]])
    return scrubbed


def test_collector_keeps_no_values_in_statements_and_urls() -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    sql_span = scrub_span(
        config,
        {
            "db.system": "postgresql",
            "db.statement": "SELECT mrn FROM analytics.visits WHERE name = 'O''Brien, Jane' AND age > 42 "
            "AND charges < -1.5 AND id = %(id_1)s AND v2 = $1 LIMIT 10",
        },
    )
    assert sql_span["db.statement"] == (
        "SELECT mrn FROM analytics.visits WHERE name = ? AND age > ? AND charges < ? "
        "AND id = %(id_1)s AND v2 = $1 LIMIT ?"
    )
    redis_span = scrub_span(config, {"db.system": "redis", "db.statement": "SET bi:login:jane.doe 3\nEX 900"})
    assert redis_span["db.statement"] == "SET"
    http_span = scrub_span(
        config,
        {
            "http.url": "http://api:3000/api/v1/datasets/visits/preview?name=Jane&limit=5",
            "url.full": "http://api:3000/api/v1/query?zip=02139",
            "http.target": "/api/v1/datasets?search=Doe",
        },
    )
    assert http_span == {
        "http.url": "http://api:3000/api/v1/datasets/visits/preview",
        "url.full": "http://api:3000/api/v1/query",
        "http.target": "/api/v1/datasets",
    }
    statements = [
        statement
        for processor in config["processors"].values()
        for group in processor.get("trace_statements", [])
        for statement in group["statements"]
    ]
    # Exceptions: a driver's message can quote a row; the status message repeats it.
    assert any('delete_key(attributes, "exception.message")' in statement for statement in statements)
    assert any('delete_key(attributes, "exception.stacktrace")' in statement for statement in statements)
    assert any(statement.startswith('set(status.message, "")') for statement in statements)


# --- Prometheus ----------------------------------------------------------------------------


def test_prometheus_scrapes_every_service() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {
        job["job_name"]: [target for static in job["static_configs"] for target in static["targets"]]
        for job in config["scrape_configs"]
    }
    assert jobs == {job: [target] for job, target in SCRAPE_TARGETS.items()}


def test_promtool_accepts_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (Debian package `prometheus`)")
        return
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana -------------------------------------------------------------------------------


def provisioned_datasources() -> dict[str, str]:
    """uid to type, of every provisioned datasource."""
    found: dict[str, str] = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.yml")):
        for datasource in load_yaml(path)["datasources"]:
            found[datasource["uid"]] = datasource["type"]
    return found


def test_grafana_provisions_prometheus_jaeger_and_redis() -> None:
    assert provisioned_datasources() == {"prometheus": "prometheus", "jaeger": "jaeger", "redis": "redis-datasource"}
    providers = [
        provider
        for path in sorted((GRAFANA / "provisioning" / "dashboards").glob("*.yml"))
        for provider in load_yaml(path)["providers"]
    ]
    # The compose file mounts observability/grafana/dashboards at this path.
    assert [provider["options"]["path"] for provider in providers] == ["/etc/grafana/dashboards"]


def datasource_references(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from datasource_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasource_references(value)


def test_dashboard_has_the_platform_panels_on_provisioned_datasources() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    missing = DASHBOARD_PANELS - set(titles)
    assert not missing, missing
    assert len(titles) == len(set(titles))
    assert all(panel.get("targets") for panel in dashboard["panels"])
    datasources = provisioned_datasources()
    references = list(datasource_references(dashboard))
    assert references
    for reference in references:
        assert datasources.get(reference["uid"]) == reference["type"], reference


def test_dashboard_services_up_names_prometheus_jobs() -> None:
    jobs = set(SCRAPE_TARGETS)
    for expression in dashboard_expressions():
        for alternatives in re.findall(r'job=~?"([^"]*)"', expression):
            assert set(alternatives.split("|")) <= jobs, expression


@pytest.fixture(scope="module")
def observability_database(embedded: EmbeddedStack) -> Iterator[str]:
    """A migrated database on the embedded PostgreSQL; yields its SQLAlchemy URL."""
    server = make_url(embedded.addresses["postgres"])
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"bi_obs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_dashboard_queries_only_metrics_the_services_export(
    embedded: EmbeddedStack, observability_database: str
) -> None:
    redis_url = embedded.addresses["redis"]
    exported = set(SCRAPE_SERIES)
    # Every target's series get `job` and `instance` from the scrape.
    labels: dict[str, set[str]] = {}
    with open_api(embedded, observability_database, redis_url) as api:
        api.client.get("/api/v1/datasets", headers=api.headers("analyst"))
        api.client.get("/api/v1/datasets/nothing-here", headers=api.headers("analyst"))
        response = api.client.get("/metrics")
        assert response.status_code == 200
        assert 'service="analytics-api"' in response.text
        exported |= exported_series(response.text)
        labels.update(sample_labels(response.text))
    with open_api(embedded, observability_database, redis_url, create=create_ml_app) as ml:
        ml.client.get("/api/v1/models", headers=ml.headers("analyst"))
        response = ml.client.get("/metrics")
        assert response.status_code == 200
        assert 'service="ml-service"' in response.text
        exported |= exported_series(response.text)
        labels.update(sample_labels(response.text))
    # The worker serves this registry (summed over its children's files in prefork mode:
    # the same names) on WORKER_METRICS_PORT.
    worker_exposition = generate_latest(telemetry.registry).decode()
    exported |= exported_series(worker_exposition)
    labels.update(sample_labels(worker_exposition))
    expressions = dashboard_expressions()
    assert expressions
    for expression in expressions:
        names = metric_names(expression)
        assert names, expression
        assert names <= exported, f"{sorted(names - exported)} in {expression!r} are exported by no service"
        # Labels are known only for series that have samples by now (the request histogram
        # always has): a label the expression uses must be on one of the series it reads.
        known = [labels[name] for name in names if name in labels]
        if known:
            carried = set().union(*known) | {"job", "instance"}
            assert grouping_labels(expression) <= carried, f"{expression!r} uses labels none of {names} carry"


# --- A real Prometheus scraping the real services -------------------------------------------


def local_prometheus_config(targets: dict[str, str]) -> dict[str, Any]:
    """prometheus.yml with each job's compose target replaced by its `host:port` here, scraping every second."""
    config: dict[str, Any] = load_yaml(PROMETHEUS_CONFIG)
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [targets[job["job_name"]] for _ in static["targets"]]
    return config


def job_health(base: str) -> dict[str, tuple[str, str]]:
    """Each job's target health and last scrape error, from Prometheus's targets API."""
    targets = httpx.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return {target["labels"]["job"]: (target["health"], target["lastError"]) for target in targets}


def test_prometheus_with_repository_config_sees_api_and_ml_up(
    embedded: EmbeddedStack, observability_database: str, tmp_path: Path
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        unavailable("prometheus is not installed (Debian package `prometheus`)")
        return
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "REDIS_", "MINIO_"))}
    env.update(
        BI_AGENT_HOME=str(embedded.home),
        DATABASE_URL=observability_database,
        REDIS_URL=embedded.addresses["redis"],
        MINIO_ENDPOINT=embedded.addresses["s3"],
    )
    prometheus_port = free_port(HOST)
    with ExitStack() as stack:
        log = stack.enter_context((tmp_path / "services.log").open("wb"))
        api_base, _ = stack.enter_context(http_service("bi_agent.analytics_api.app:create_app", "API", log, env))
        ml_base, _ = stack.enter_context(http_service("bi_agent.ml_service.app:create_app", "ML service", log, env))
        api, ml = (base.removeprefix("http://") for base in (api_base, ml_base))
        # The collector and the worker are not started here: their jobs point at ports
        # nobody listens on, and only the API and ML jobs must be up.
        targets = {job: f"{HOST}:{free_port(HOST)}" for job in SCRAPE_TARGETS}
        targets.update({"prometheus": f"{HOST}:{prometheus_port}", "analytics-api": api, "ml-service": ml})
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(local_prometheus_config(targets)))
        prometheus_log = stack.enter_context((tmp_path / "prometheus.log").open("wb"))
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={HOST}:{prometheus_port}",
            ],
            stdout=prometheus_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop_server, server)
        base = f"http://{HOST}:{prometheus_port}"
        deadline = time.monotonic() + 60
        health: dict[str, tuple[str, str]] = {}
        while not (health.get("analytics-api", ("",))[0] == health.get("ml-service", ("",))[0] == "up"):
            assert server.poll() is None, f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()}"
            assert time.monotonic() < deadline, f"targets not up within 60 s: {health}"
            time.sleep(0.5)
            try:
                health = job_health(base)
            except httpx.TransportError:
                continue
        assert set(health) == set(SCRAPE_TARGETS)
        # Every dashboard expression is valid PromQL to the real Prometheus, and the request
        # histogram of both services is stored under their jobs.
        for expression in dashboard_expressions():
            reply = httpx.get(
                f"{base}/api/v1/query", params={"query": expression.replace("$__rate_interval", "1m")}, timeout=5
            ).json()
            assert reply["status"] == "success", (expression, reply)
        deadline = time.monotonic() + 15
        while True:
            reply = httpx.get(
                f"{base}/api/v1/query",
                params={"query": "count by (job, service) (bi_agent_http_request_duration_seconds_count)"},
                timeout=5,
            ).json()
            seen = {(r["metric"].get("job"), r["metric"].get("service")) for r in reply["data"]["result"]}
            if {("analytics-api", "analytics-api"), ("ml-service", "ml-service")} <= seen:
                break
            assert time.monotonic() < deadline, f"request metrics not stored under their jobs: {seen}"
            time.sleep(0.5)
