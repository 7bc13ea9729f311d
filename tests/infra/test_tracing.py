"""Tracing: one trace from an upload through Redis, PostgreSQL, S3 and the Celery task; the
ML service traced; trace ids on log records; no value of the data and no credential on a
span; exported over real OTLP/HTTP; nothing at all without an endpoint."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.exc import DataError

from bi_agent.infra.db import create_database_engine
from bi_agent.infra.span_redaction import CALLER_ATTRIBUTES
from bi_agent.infra.tracing import configure_tracing, stop_tracing
from bi_agent.ml_service.app import create_app as create_ml_service
from tests.analytics_api.conftest import Api, open_api, running_worker, upload, wait_for_job
from tests.analytics_api.test_phi_leaks import CANARIES, CHARGES, fail_training_on
from tests.analytics_api.test_phi_leaks import VISITS as PHI_VISITS
from tests.catalog.conftest import load, s3  # noqa: F401 (fixtures used by the tests here)
from tests.conftest import EmbeddedStack
from tests.ml.conftest import churn, unique_name  # noqa: F401 (as above)

VISITS = b"visit_date,region,charges\n2024-01-01,north,120.5\n2024-01-02,south,80\n"
SCOPE = "opentelemetry.instrumentation."


@dataclass
class Spans:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def finished(self) -> tuple[ReadableSpan, ...]:
        self.provider.force_flush()
        return self.exporter.get_finished_spans()


@pytest.fixture
def spans(embedded: EmbeddedStack) -> Iterator[Spans]:
    """Tracing started as a service starts it, but into memory."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing(embedded.settings(), "analytics-api", exporter=exporter)
    assert provider is not None
    try:
        yield Spans(provider, exporter)
    finally:
        stop_tracing()


@pytest.fixture
def api(spans: Spans, embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url) as opened:
        yield opened


@pytest.fixture
def worker(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with running_worker(api.settings, monkeypatch):
        yield


def scopes(found: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> set[str]:
    return {span.instrumentation_scope.name.removeprefix(SCOPE) for span in found if span.instrumentation_scope}


def server_span(found: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    matching = [span for span in found if span.kind is SpanKind.SERVER and span.name == name]
    assert matching, sorted({span.name for span in found})
    return matching[0]


def in_trace(found: tuple[ReadableSpan, ...], root: ReadableSpan) -> list[ReadableSpan]:
    assert root.context is not None
    return [span for span in found if span.context is not None and span.context.trace_id == root.context.trace_id]


def test_an_upload_is_one_trace_through_redis_postgresql_s3_and_the_task(api: Api, worker: None, spans: Spans) -> None:
    job = wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])
    assert job["state"] == "SUCCESS", job
    found = spans.finished()
    trace = in_trace(found, server_span(found, "POST /api/v1/datasets"))
    assert {"fastapi", "sqlalchemy", "redis", "botocore", "celery"} <= scopes(trace)
    assert {span.name for span in trace} >= {"apply_async/import_data", "run/import_data"}
    # The task's own work is in the same trace, under its run span.
    task_run = next(span for span in trace if span.name == "run/import_data")
    assert task_run.context is not None
    under_task = [span for span in trace if span.parent and span.parent.span_id == task_run.context.span_id]
    assert {"sqlalchemy", "botocore"} <= scopes(under_task)
    # Probes and scrapes are not traced.
    api.client.get("/health")
    api.client.get("/metrics")
    assert not {span.name for span in spans.finished()} & {"GET /health", "GET /metrics"}


def test_the_ml_service_is_traced(
    spans: Spans,
    embedded: EmbeddedStack,
    database: str,
    redis_url: str,
    churn: str,  # noqa: F811 (the fixture imported above)
) -> None:
    with open_api(embedded, database, redis_url, create=create_ml_service) as ml:
        name = unique_name("churn")
        body = {"dataset": churn, "target": "churned", "task": "classification"}
        reply = ml.client.post(
            f"/api/v1/models/{name}/train", params={"wait": "true"}, json=body, headers=ml.headers("analyst")
        )
        assert reply.status_code == 201, reply.text
    found = spans.finished()
    trace = in_trace(found, server_span(found, "POST /api/v1/models/{name}/train"))
    assert {"fastapi", "sqlalchemy", "botocore"} <= scopes(trace)


def test_a_training_job_is_one_trace_from_the_ml_request_into_the_task(
    spans: Spans,
    embedded: EmbeddedStack,
    database: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    churn: str,  # noqa: F811 (the fixture imported above)
) -> None:
    with (
        open_api(embedded, database, redis_url, create=create_ml_service) as ml,
        running_worker(ml.settings, monkeypatch),
    ):
        body = {"dataset": churn, "target": "churned", "task": "classification"}
        reply = ml.client.post(f"/api/v1/models/{unique_name('churn')}/train", json=body, headers=ml.headers("analyst"))
        assert reply.status_code == 202, reply.text
        deadline = time.monotonic() + 120
        while not any(span.name == "run/train_model" for span in spans.finished()):
            assert time.monotonic() < deadline, "train_model did not finish within 120 s"
            time.sleep(0.5)
    found = spans.finished()
    trace = in_trace(found, server_span(found, "POST /api/v1/models/{name}/train"))
    assert {"apply_async/train_model", "run/train_model"} <= {span.name for span in trace}
    task_run = next(span for span in trace if span.name == "run/train_model")
    assert task_run.context is not None
    # The training reads the dataset from PostgreSQL and writes the model file to S3, in the trace.
    under_task = [span for span in trace if span.parent and span.parent.span_id == task_run.context.span_id]
    assert {"sqlalchemy", "botocore"} <= scopes(under_task)


def test_log_records_in_a_request_carry_its_trace_id(api: Api, spans: Spans) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tests.tracing")
    handler = Keep()
    logger.addHandler(handler)

    def log_something() -> dict[str, str]:
        logger.warning("inside a request")
        return {}

    api.app.add_api_route("/api/v1/log-something", log_something)
    try:
        assert api.client.get("/api/v1/log-something").status_code == 200
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    inside, outside = records
    request = server_span(spans.finished(), "GET /api/v1/log-something")
    assert request.context is not None
    assert inside.trace_id == f"{request.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert len(inside.span_id) == 16  # type: ignore[attr-defined]
    assert not hasattr(outside, "trace_id") and not hasattr(outside, "span_id")


@pytest.fixture
def hipaa_api(spans: Spans, embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url, hipaa_mode=True) as opened:
        yield opened


def test_no_span_carries_phi_or_a_credential(hipaa_api: Api, spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    api = hipaa_api
    headers = {**api.headers("admin"), "X-Purpose": "OPERATIONS"}
    token = headers["Authorization"].removeprefix("Bearer ")
    with running_worker(api.settings, monkeypatch):
        job = wait_for_job(api, upload(api, "visits", "visits.csv", PHI_VISITS, role="admin").json()["job_id"])
    assert job["state"] == "SUCCESS", job
    assert api.client.post("/api/v1/metrics", headers=headers, json=CHARGES).status_code == 201
    query = {"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01"}
    for _ in range(2):  # the second answer comes from the Redis cache
        grouped = api.client.post("/api/v1/query", headers=headers, json={**query, "group_by": ["patient_name"]})
        assert grouped.status_code == 200 and CANARIES[0] in grouped.text
    filtered = {**query, "filters": [{"dimension": "mrn", "op": "eq", "value": CANARIES[1]}]}
    assert api.client.post("/api/v1/query", headers=headers, json=filtered).status_code == 200
    rows = api.client.get(f"/api/v1/datasets/visits/rows?q={CANARIES[2]}", headers=headers)
    assert CANARIES[1] in rows.text
    # A task that fails on a PHI value: its span records the error.
    with running_worker(api.settings, monkeypatch):
        assert wait_for_job(api, fail_training_on(api, "mrn", "boolean"))["state"] == "FAILURE"

    found = spans.finished()
    assert any(event.name == "exception" for span in found for event in span.events)
    assert {"fastapi", "sqlalchemy", "redis", "botocore", "celery"} <= scopes(found)
    for secret in (*CANARIES, token, "OPERATIONS"):
        assert secret not in everything_recorded(found)
    # Nor who called: the request spans lose the client's address and user agent.
    requests = [span for span in found if span.instrumentation_scope and "fastapi" in span.instrumentation_scope.name]
    assert requests
    for span in requests:
        assert CALLER_ATTRIBUTES.isdisjoint(span.attributes or {}), dict(span.attributes or {})


def everything_recorded(found: tuple[ReadableSpan, ...]) -> str:
    return "\n".join(
        f"{span.name} {dict(span.attributes or {})} {span.status.description} "
        f"{[(event.name, dict(event.attributes or {})) for event in span.events]}"
        for span in found
    )


def test_an_error_quoting_a_value_reaches_no_span(spans: Spans, embedded: EmbeddedStack, database: str) -> None:
    # PostgreSQL quotes the bad value in its message; the span keeps only the error's type.
    engine = create_database_engine(embedded.settings(database_url=database))
    try:
        with pytest.raises(DataError), engine.connect() as connection:
            connection.execute(text("SELECT CAST(:value AS integer)"), {"value": CANARIES[1]})
    finally:
        engine.dispose()
    found = spans.finished()
    failed = [span for span in found if span.status.status_code is StatusCode.ERROR]
    assert failed and scopes(failed) == {"sqlalchemy"}
    assert "SELECT CAST(%(value)s AS integer)" in everything_recorded(found)
    assert CANARIES[1] not in everything_recorded(found)


class Receiver(BaseHTTPRequestHandler):
    """The traces endpoint of an OTLP/HTTP collector, keeping what it is sent."""

    received: ClassVar[list[ExportTraceServiceRequest]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        if self.path == "/v1/traces":
            self.received.append(request)
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_a_request_trace_is_exported_over_otlp(
    embedded: EmbeddedStack, database: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Collected(Receiver):
        received: ClassVar[list[ExportTraceServiceRequest]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collected)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        # The service starts tracing itself, as it does in production, from its settings.
        with open_api(embedded, database, redis_url, otel_exporter_otlp_endpoint=endpoint) as api:
            with running_worker(api.settings, monkeypatch):
                reply = upload(api, "visits", "visits.csv", VISITS)
                assert wait_for_job(api, reply.json()["job_id"])["state"] == "SUCCESS"
            stop_tracing()  # sends what is left
    finally:
        stop_tracing()
        server.shutdown()
        server.server_close()
    exported = [
        (resource.resource, scope.scope.name.removeprefix(SCOPE), span)
        for request in Collected.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    upload_span = next(span for _, _, span in exported if span.name == "POST /api/v1/datasets")
    in_upload_trace = {scope for _, scope, span in exported if span.trace_id == upload_span.trace_id}
    assert {"fastapi", "sqlalchemy", "celery"} <= in_upload_trace
    service_names = {
        attribute.value.string_value
        for resource, _, _ in exported
        for attribute in resource.attributes
        if attribute.key == "service.name"
    }
    assert service_names == {"analytics-api"}


def test_without_an_endpoint_nothing_is_loaded_or_started(embedded: EmbeddedStack) -> None:
    assert configure_tracing(embedded.settings(), "analytics-api") is None
    # In a fresh process, as a service starts: none of the tracing SDK, exporter or
    # instrumentations is imported (FastAPI and redis-py import the OpenTelemetry API and SDK
    # metrics themselves), no middleware is added, no thread started, no provider set.
    probe = (
        "import sys, threading\n"
        "from opentelemetry import trace\n"
        "from bi_agent.analytics_api.app import create_app\n"
        "from tests.conftest import make_settings\n"
        f"app = create_app(make_settings(bi_agent_home={str(embedded.home)!r}))\n"
        "prefixes = ('opentelemetry.sdk.trace', 'opentelemetry.exporter', 'opentelemetry.instrumentation')\n"
        "assert not [m for m in sys.modules if m.startswith(prefixes)]\n"
        "assert not [m for m in app.user_middleware if 'OpenTelemetry' in str(m)]\n"
        "assert threading.active_count() == 1\n"
        "assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
