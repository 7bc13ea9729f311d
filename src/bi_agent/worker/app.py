"""The Celery app the processes run: `celery -A bi_agent.worker.app worker` and `... beat`."""

import atexit
import os
import shutil
import tempfile

# Before anything imports prometheus_client, which picks its value store on import: the
# prefork children then count in files here, summed by the main process's /metrics.
# A folder per main process, so two workers (or a beat) never mix or delete each other's.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _metrics_folder = tempfile.mkdtemp(prefix="bi-agent-worker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_folder
    _owner = os.getpid()

    def _remove_metrics_folder() -> None:
        if os.getpid() == _owner:  # not in a forked child leaving through atexit
            shutil.rmtree(_metrics_folder, ignore_errors=True)

    atexit.register(_remove_metrics_folder)

from typing import Any

from celery.concurrency import get_implementation
from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    worker_init,
    worker_process_init,
    worker_ready,
)

from bi_agent.infra.db import create_database_engine
from bi_agent.infra.log_format import set_up_logs
from bi_agent.infra.schedules import sync_all
from bi_agent.infra.tracing import configure_tracing
from bi_agent.settings import get_settings
from bi_agent.task_queue import create_celery
from bi_agent.worker.metrics import serve_metrics
from bi_agent.worker.recovery import restore_orphans

app = create_celery(get_settings(), runs_tasks=True)


@after_setup_logger.connect  # type: ignore[untyped-decorator]
@after_setup_task_logger.connect  # type: ignore[untyped-decorator]
def logs_as_configured(logger: Any = None, **_: Any) -> None:
    """Celery's own handlers (worker and beat) follow LOG_FORMAT and LOG_DIR too."""
    settings = get_settings()
    # Worker and beat run this same module; compose tells them apart by OTEL_SERVICE_NAME.
    set_up_logs(settings, settings.otel_service_name or "celery")


@beat_init.connect  # type: ignore[untyped-decorator]
def load_schedules(sender: Any = None, **_: Any) -> None:
    """Write the schedules kept in PostgreSQL into RedBeat before beat's first tick."""
    configure_tracing(get_settings(), "celery-beat")
    engine = create_database_engine(get_settings())
    try:
        with engine.connect() as connection:
            sync_all(connection, app)
    finally:
        engine.dispose()


@worker_init.connect  # type: ignore[untyped-decorator]
def start_metrics(sender: Any = None, **_: Any) -> None:
    """Serve /metrics from the main process, before the pool forks its children."""
    serve_metrics(get_settings())
    # A prefork pool's children trace, each from its own start (trace_pool_child); the
    # exporting thread would not survive the fork. Solo and thread pools run tasks here.
    if not issubclass(get_implementation(sender.pool_cls), PreforkPool):
        configure_tracing(get_settings(), "celery-worker")


@worker_process_init.connect  # type: ignore[untyped-decorator]
def trace_pool_child(sender: Any = None, **_: Any) -> None:
    """Trace the tasks this prefork child runs."""
    configure_tracing(get_settings(), "celery-worker")


@worker_ready.connect  # type: ignore[untyped-decorator]
def take_back_orphans(sender: Any = None, **_: Any) -> None:
    """Before this worker takes a task, put back the messages a killed worker held."""
    if getattr(sender, "app", None) is app:
        restore_orphans(app)
