"""Prometheus metrics of this process. Names and labels never carry a value from the data.

Each process has its own registry: the HTTP services serve it at `/metrics`. The
worker's prefork children count in files that its main process serves (worker/metrics.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

registry = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "bi_agent_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["service", "method", "route", "status"],
    registry=registry,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUEST_ERRORS = Counter(
    "bi_agent_http_request_errors_total",
    "Requests answered with a 5xx status, by route template",
    ["service", "method", "route"],
    registry=registry,
)
ROWS_IMPORTED = Counter("bi_agent_rows_imported_total", "Rows committed into datasets by imports", registry=registry)
QUERY_CACHE = Counter(
    "bi_agent_query_cache_total",
    "Query cache lookups: hit, miss, error (Redis unreachable; the answer came from PostgreSQL), "
    "or rejected (an entry failed its integrity check and was not served)",
    ["outcome"],
    registry=registry,
)
QUERIES = Counter("bi_agent_queries_total", "Queries answered, by source", ["source"], registry=registry)
TASKS = Counter(
    "bi_agent_tasks_total",
    "Celery tasks finished, by task name and outcome: success, failure or retry",
    ["task", "outcome"],
    registry=registry,
)
TASK_SECONDS = Histogram(
    "bi_agent_task_duration_seconds",
    "Time a Celery task ran, by task name (each retry is a run)",
    ["task"],
    registry=registry,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
# Models: labelled by model name (registry metadata, never data), only once the model is known.
PREDICTIONS = Counter("bi_agent_predictions_total", "Rows predicted, by model", ["model"], registry=registry)
PREDICTION_SECONDS = Histogram(
    "bi_agent_prediction_duration_seconds",
    "Time to check a prediction batch and predict it, by model (its count is the batches)",
    ["model"],
    registry=registry,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MODEL_CACHE = Counter(
    "bi_agent_model_cache_total",
    "Loaded-model cache lookups: hit, or load (read, checked and rebuilt from S3)",
    ["outcome"],
    registry=registry,
)
FORECASTS = Counter(
    "bi_agent_forecasts_total", "Forecasts computed (cache misses), by metric", ["metric"], registry=registry
)
TRAINING_RUNS = Counter(
    "bi_agent_model_training_runs_total",
    "Trainings run in this process, by model and outcome (success, refused: bad input, failure)",
    ["model", "outcome"],
    registry=registry,
)
TRAINING_SECONDS = Histogram(
    "bi_agent_model_training_duration_seconds",
    "Time to train and register a model version, by model",
    ["model"],
    registry=registry,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
