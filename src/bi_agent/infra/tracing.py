"""OpenTelemetry tracing of this process: one trace per request, through Redis, PostgreSQL,
S3 and Celery. Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Spans carry names, routes, statements with placeholders and ids, never a value from the
data or a credential: SQL binds its parameters (and the commenter stays off), Redis
commands are recorded as `SET ? ?`, request headers are not captured and query strings
are cut from URLs, since filters in them may name a patient, and errors keep their type
but not their message (span_redaction.py).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bi_agent.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine

# Probes and scrapes would be most of the spans and tell nothing.
EXCLUDED_URLS = "/health,/livez,/metrics"


class _ProcessTracing:
    """What this process has started; tracing is set up once per process."""

    provider: TracerProvider | None = None
    global_provider_set = False
    log_trace_ids_installed = False


_state = _ProcessTracing()


def configure_tracing(
    settings: Settings, service_name: str, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Start tracing this process, once; None (and nothing started) without an endpoint.

    Call it in the process that runs the work: a prefork worker's children, not its parent,
    since the exporting thread does not survive a fork. `exporter` replaces OTLP in tests.
    """
    if _state.provider is not None:
        return _state.provider
    endpoint = settings.otel_exporter_otlp_endpoint
    if exporter is None and not endpoint:
        return None
    # Imported here, so a process without tracing pays neither their import time nor a hook.
    from opentelemetry import trace
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from bi_agent.infra.span_redaction import RedactingSpanExporter

    if exporter is None:
        # OTLP over HTTP/protobuf (the collector's 4318): no grpcio to install or import.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{str(endpoint).rstrip('/')}/v1/traces")
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.otel_service_name or service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sampler_arg)),
    )
    provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(exporter)))
    if not _state.global_provider_set:
        # The global provider can be set once per process; the instrumentations below are
        # given theirs, so a later configure (after stop_tracing, in tests) still takes effect.
        trace.set_tracer_provider(provider)
        _state.global_provider_set = True
    # Redis commands are recorded as `SET ? ?`: this version sanitises them always.
    RedisInstrumentor().instrument(tracer_provider=provider)
    BotocoreInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _carry_context_into_thread_pools()
    _install_log_trace_ids()
    _state.provider = provider
    return provider


def trace_engine(engine: Engine) -> None:
    """Trace the statements `engine` runs, if this process traces: their text, whose values
    are bound parameters, never recorded."""
    if _state.provider is None:
        return
    # The engine's tracer alone: SQLAlchemyInstrumentor would also wrap sqlalchemy.ext.asyncio,
    # which needs greenlet, and declares SQLAlchemy below 2.1 (the events it uses are unchanged).
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    tracer = _state.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    # Connection counts are Prometheus's job (telemetry.py): this meter is the no-op one.
    connections = get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, connections, enable_commenter=False)  # type: ignore[no-untyped-call]


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Trace the requests `app` answers, but for probes and scrapes."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        server_request_hook=_drop_query_string,
        # A span per ASGI message (each chunk of an upload) would outnumber the rest.
        exclude_spans=["receive", "send"],
    )


def stop_tracing() -> None:
    """Send what is left and undo configure_tracing (tests; a process otherwise traces to its end)."""
    if _state.provider is None:
        return
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.utils import unwrap

    EngineTracer.remove_all_event_listeners()  # type: ignore[no-untyped-call]
    instrumentors = (
        RedisInstrumentor(),
        BotocoreInstrumentor(),  # type: ignore[no-untyped-call]
        CeleryInstrumentor(),  # type: ignore[no-untyped-call]
    )
    for instrumentor in instrumentors:
        instrumentor.uninstrument()
    unwrap(ThreadPoolExecutor, "submit")
    _state.provider.shutdown()
    _state.provider = None


def _carry_context_into_thread_pools() -> None:
    """Spans made in a thread pool's thread join the trace of the code that submitted the work.

    boto3's upload_file and download_file move the bytes in s3transfer's threads; without
    this their S3 calls would each start a trace of their own. (The package
    opentelemetry-instrumentation-threading does the same, but the registry has it only at
    0.66b1, which pins the other instrumentations below the 0.66b2 used here.)
    """
    from opentelemetry import context
    from wrapt import wrap_function_wrapper

    def submit_in_context(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        function, *rest = args
        submitted = context.get_current()

        def run_in_context(*call_args: Any, **call_kwargs: Any) -> Any:
            token = context.attach(submitted)
            try:
                return function(*call_args, **call_kwargs)
            finally:
                context.detach(token)

        return wrapped(run_in_context, *rest, **kwargs)

    wrap_function_wrapper("concurrent.futures", "ThreadPoolExecutor.submit", submit_in_context)


def _drop_query_string(span: trace.Span, scope: dict[str, Any]) -> None:
    # The instrumentation records the full URL; a query string may hold a filter on a PHI column.
    recorded = getattr(span, "attributes", None) or {}
    path = str(scope.get("path", ""))
    if "http.target" in recorded:
        span.set_attribute("http.target", path)
    if "url.query" in recorded:
        span.set_attribute("url.query", "")
    if "http.url" in recorded:
        url = str(recorded["http.url"])
        span.set_attribute("http.url", url.split("?", 1)[0])


def _install_log_trace_ids() -> None:
    """Give every log record of this process `trace_id` and `span_id` (hex) while a span is active."""
    if _state.log_trace_ids_installed:
        return
    from opentelemetry import trace

    make_record = logging.getLogRecordFactory()

    def make_record_with_trace_ids(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        return record

    logging.setLogRecordFactory(make_record_with_trace_ids)
    _state.log_trace_ids_installed = True
