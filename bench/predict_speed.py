"""Predict speed: a 10,000-row batch through `POST /api/v1/models/{name}/predict`, against the
same rows through the loaded pipeline's own `predict` in this process.

Run: .venv/bin/python -m bench.predict_speed [--rows 10000] [--repeat 15] [--single 200]
Needs `bi-agent up` running (embedded servers, migrated to the newest revision: `bi-agent
migrate` after pulling new migrations) or DATABASE_URL/REDIS_URL/MINIO_ENDPOINT.
Imports dataset `bench_predict` (20,000 synthetic customers) through the product's import
(a re-run reuses it), trains model `bench_predict` (a classifier, histogram gradient
boosting, the default) in this process unless a version trained on that data exists, and
starts its own ML service (one uvicorn process, the command `bi-agent up` uses) on a free
loopback port, with a token of a bench analyst.

Measured, each as the median of `--repeat` runs in turns:
- in process: `pipeline.predict(frame)`, the frame built beforehand (the target's baseline);
- HTTP records: the request body (JSON records, encoded once beforehand) sent, decoded,
  checked, predicted (classes and probabilities), encoded, received and decoded by the
  client (with orjson, as the service decodes and encodes);
- HTTP dataframe_split: the same rows in MLflow's split form.
Rows per second of each, and the ratio of HTTP records to in process; the target is at
least 0.5. The CPU time each took (this process's, plus the server's for HTTP) is printed
too: on a shared machine it varies less than the wall time. Then `--single` one-record
requests, one after another: p50 and p95 latency. The server is stopped on the way out,
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from bench.servers import http_service
from sqlalchemy import text

from bi_agent.catalog.datasets import get_dataset
from bi_agent.catalog.imports import import_local_file
from bi_agent.errors import NotFoundError
from bi_agent.infra.connections import Connections
from bi_agent.infra.objects import ensure_buckets
from bi_agent.ml import artifacts, registry, training
from bi_agent.ml.features import build_frame, column_array
from bi_agent.ml.registry import ModelVersion
from bi_agent.security.passwords import generate_password, hash_password
from bi_agent.security.tokens import issue_access_token
from bi_agent.settings import Settings

DATASET = "bench_predict"
MODEL = "bench_predict"
USERNAME = "bench_predict"
TRAINING_ROWS = 20_000
PLANS = ("basic", "plus", "pro", "family", "student")
REGIONS = ("north", "south", "east", "west", "centre")
COLUMNS = ["age", "tenure_months", "monthly_charges", "support_calls", "plan", "region", "autopay", "churned"]
TARGET = 0.5


def make_rows(rows: int, seed: int) -> list[dict[str, Any]]:
    """Customers: four numbers, two texts and a boolean; churn follows charges, calls and plan."""
    chance = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    made = []
    for _ in range(rows):
        charges = round(chance.uniform(10, 150), 2)
        calls = chance.randint(0, 9)
        plan = chance.choice(PLANS)
        autopay = chance.random() < 0.5
        score = 0.02 * (charges - 80) + 0.3 * (calls - 3) + (0.8 if plan == "basic" else 0.0) - 0.7 * autopay
        made.append(
            {
                "age": chance.randint(18, 85),
                "tenure_months": chance.randint(0, 120),
                "monthly_charges": charges,
                "support_calls": calls,
                "plan": plan,
                "region": chance.choice(REGIONS),
                "autopay": autopay,
                "churned": "yes" if chance.random() < 1 / (1 + 2.718 ** (-score)) else "no",
            }
        )
    return made


def prepare(settings: Settings) -> tuple[ModelVersion, str]:
    """The dataset, the model (trained again only when the dataset changed) and a bench analyst's token."""
    connections = Connections.open(settings)
    ensure_buckets(connections.s3, settings.buckets)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        with path.open("w") as out:
            out.write(",".join(COLUMNS) + "\n")
            for row in make_rows(TRAINING_ROWS, seed=1):
                out.write(",".join(str(row[column]).lower() for column in COLUMNS) + "\n")
        import_local_file(
            connections.engine,
            connections.s3,
            settings.minio_bucket_datasets,
            path,
            DATASET,
            "replace",
            max_field_bytes=settings.import_max_field_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
            timezone=settings.reporting_timezone,
        )
    with connections.engine.connect() as connection:
        data_version = get_dataset(connection, DATASET).data_version
        try:
            version = registry.resolve(connection, MODEL)
        except NotFoundError:
            version = None
    if version is None or version.data_version != data_version:
        request = training.TrainingRequest(model=MODEL, dataset=DATASET, target="churned", task="classification")
        version = training.train(connections.engine, connections.s3, settings.minio_bucket_models, request)
    with connections.engine.begin() as connection:
        # Straight into the tables: the bench never signs in, it is handed a token below.
        user_id = connection.execute(
            text(
                "INSERT INTO bi.users (username, password_hash) VALUES (:name, :hash) "
                "ON CONFLICT (username) DO UPDATE SET is_active = true RETURNING id"
            ),
            {"name": USERNAME, "hash": hash_password(generate_password())},
        ).scalar_one()
        connection.execute(
            text("INSERT INTO bi.user_roles (user_id, role) VALUES (:id, 'analyst') ON CONFLICT DO NOTHING"),
            {"id": user_id},
        )
    connections.close()
    return version, issue_access_token(settings, user_id, USERNAME).token


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measured(action: Any, server: psutil.Process | None = None) -> tuple[float, float, float]:
    """Wall time, this process's CPU time and the server's: CPU time is steadier on a shared
    machine, where other work stretches the wall time of whatever waits for a CPU."""
    client_before, server_before = time.process_time(), cpu_seconds(server) if server else 0.0
    wall = timed(action)
    server_cpu = cpu_seconds(server) - server_before if server else 0.0
    return wall, time.process_time() - client_before, server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the measured batch")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each way, in turns; medians compared")
    parser.add_argument("--single", type=int, default=200, help="one-record requests for the latency")
    arguments = parser.parse_args()
    if not 1 <= arguments.rows <= 50_000 or not 1 <= arguments.repeat <= 200 or not 1 <= arguments.single <= 10_000:
        raise SystemExit("--rows must be 1..50000, --repeat 1..200 and --single 1..10000")
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    settings = Settings()
    version, token = prepare(settings)
    features = version.features
    records = [{feature.name: row[feature.name] for feature in features} for row in make_rows(arguments.rows, seed=2)]
    frame = build_frame(
        features,
        {feature.name: column_array(feature.kind, [row[feature.name] for row in records]) for feature in features},
    )
    connections = Connections.open(settings)
    pipeline = artifacts.load(
        connections.s3, settings.minio_bucket_models, version.artifact_key, version.artifact_sha256
    )
    connections.close()
    names = [feature.name for feature in features]
    body_records = json.dumps({"records": records, "version": version.version}).encode()
    body_split = json.dumps(
        {
            "dataframe_split": {"columns": names, "data": [[row[name] for name in names] for row in records]},
            "version": version.version,
        }
    ).encode()
    expected = pipeline.predict(frame).tolist()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    times: dict[str, list[tuple[float, float, float]]] = {
        "in process": [],
        "HTTP records": [],
        "HTTP dataframe_split": [],
    }
    with (
        tempfile.NamedTemporaryFile(prefix="bench-ml-service-", suffix=".log", delete=False) as log,
        http_service("bi_agent.ml_service.app:create_app", "ML service", log) as (base, server),
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
    ):
        url = f"/api/v1/models/{MODEL}/predict"

        def over_http(body: bytes) -> Any:
            reply = client.post(url, content=body)
            if reply.status_code != 200:
                raise SystemExit(f"status {reply.status_code}: {reply.text[:300]}")
            return orjson.loads(reply.content)

        # Warm-up (loads the model into the service's cache) and a check of both forms.
        for body in (body_records, body_split):
            if over_http(body)["predictions"] != expected:
                raise SystemExit("the service's predictions differ from the pipeline's")
        for _ in range(arguments.repeat):
            times["in process"].append(measured(lambda: pipeline.predict(frame)))
            times["HTTP records"].append(measured(lambda: over_http(body_records), server))
            times["HTTP dataframe_split"].append(measured(lambda: over_http(body_split), server))
        one = json.dumps({"records": records[:1]}).encode()
        latencies = sorted(
            timed(lambda: client.post(url, content=one).raise_for_status()) for _ in range(arguments.single)
        )
    Path(log.name).unlink()
    print(
        f"\n{psutil.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); one uvicorn worker; model "
        f"{MODEL} version {version.version} ({version.algorithm}, {len(features)} features, trained on "
        f"{version.training['rows_train']:,} rows, accuracy {version.metrics['accuracy']:.3f} against "
        f"{version.metrics['baseline']['accuracy']:.3f}); {arguments.rows:,} rows a batch, "
        f"{len(body_records) / 1e6:.2f} MB of JSON records; medians of {arguments.repeat} (the server's CPU: a mean)"
    )
    medians = {way: statistics.median(run[0] for run in runs) for way, runs in times.items()}
    client_cpu = {way: statistics.median(run[1] for run in runs) for way, runs in times.items()}
    # A mean, not a median: the server's CPU time is read in clock ticks (10 ms), so one run's
    # is coarse and only the sum over all runs is exact enough.
    server_cpu = {way: statistics.fmean(run[2] for run in runs) for way, runs in times.items()}
    for way, seconds in medians.items():
        print(
            f"{way:22s} {seconds * 1e3:8.1f} ms   {arguments.rows / seconds:10,.0f} rows/s   "
            f"CPU {client_cpu[way] * 1e3:5.1f} ms here, {server_cpu[way] * 1e3:5.1f} ms in the server"
        )
    ratio = medians["in process"] / medians["HTTP records"]
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"{'ratio HTTP/in process':22s} {ratio:8.2f}         (target >= {TARGET}) {verdict}")
    spent = client_cpu["HTTP records"] + server_cpu["HTTP records"]
    print(f"{'ratio of CPU time':22s} {client_cpu['in process'] / spent:8.2f}")
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(f"{'single record':22s} p50 {p50 * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms ({arguments.single} requests)")


if __name__ == "__main__":
    main()
