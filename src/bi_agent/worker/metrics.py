"""The worker's Prometheus metrics: tasks by outcome and duration, rows imported.

Tasks run in prefork children, each its own process with its own counters. With
`PROMETHEUS_MULTIPROC_DIR` set (worker/app.py sets it before prometheus_client is
imported, which is when the library picks its value store), every child writes its
values to files there, and the main process serves their sum on WORKER_METRICS_PORT.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery.signals import task_failure, task_postrun, task_prerun, task_retry, worker_process_shutdown
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from bi_agent.infra.telemetry import TASK_SECONDS, TASKS
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

_started: dict[str, float] = {}


def serve_metrics(settings: Settings) -> None:
    """Start the /metrics server of the worker's main process (nothing when the port is 0)."""
    if settings.worker_metrics_port == 0:
        return
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from bi_agent.infra.telemetry import registry as process_registry

        registry = process_registry
    try:
        start_http_server(settings.worker_metrics_port, settings.worker_metrics_host, registry=registry)
    except OSError as error:
        # The worker still works without its metrics; the log says what to change.
        logger.error(
            "worker metrics not served: port %s is in use or not allowed (%s); set WORKER_METRICS_PORT",
            settings.worker_metrics_port,
            error.strerror,
        )
        return
    logger.info("worker metrics at http://%s:%s/metrics", settings.worker_metrics_host, settings.worker_metrics_port)


@task_prerun.connect  # type: ignore[untyped-decorator]
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.perf_counter()


@task_postrun.connect  # type: ignore[untyped-decorator]
def _task_ended(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None) if task_id is not None else None
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - started)
    if state == "SUCCESS":
        TASKS.labels(name, "success").inc()


@task_failure.connect  # type: ignore[untyped-decorator]
def _task_failed(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "unknown"), "failure").inc()


@task_retry.connect  # type: ignore[untyped-decorator]
def _task_retried(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _child_ended(pid: int | None = None, **_: Any) -> None:
    # Only live gauges are dropped; a dead child's counts stay in the sum.
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]
