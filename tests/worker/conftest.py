"""The worker and beat as `bi-agent up` runs them: real processes, killed and cut off on purpose.

These tests run once, on the embedded PostgreSQL 18 and Valkey of the session (the faults
they cause are the same on every server kind, and each test takes tens of seconds, most of
them spent starting Celery processes). Each test gets a fresh migrated database and a Redis
database index of its own on the embedded Valkey, so its queues, results and beat schedule
meet nobody else's: the machine's Redis is never touched. Every process a test starts is
killed at its end, whatever happens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
import redis
from celery import Celery
from psycopg import sql
from sqlalchemy import Engine, create_engine, func, select, table, text
from sqlalchemy.engine import make_url

from bi_agent.infra import jobs, migrations, processes
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from bi_agent.settings import Settings
from bi_agent.supervisor import process_specs
from bi_agent.task_queue import create_celery
from tests.conftest import EmbeddedStack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The session's other tests use index 0 of the embedded Valkey; Celery's broadcasts carry the
# index in their channel names, so this one is private to the fault tests.
FAULTS_REDIS_DB = 7
# Beat ticks this often in these tests, so its lock (five ticks) expires in seconds.
BEAT_INTERVAL_SECONDS = 1
FINISHED = ("SUCCESS", "FAILURE")
WORKER_READY = " ready."
# Enough rows that an import's COPY runs for a couple of seconds on a small machine, so a
# test can strike in the middle of it.
ROWS = 1_000_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: kills and cuts off real worker and beat processes (tens of seconds each)"
    )


@dataclass
class Child:
    """A worker or beat process, its output in a file the test can read."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not print {text!r} within {timeout}s:\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group at once (Celery's pool included): nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a restart sends it; the group is killed after."""
        processes.stop_process_group(self.process, timeout=20)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


@dataclass
class Platform:
    """A fresh database and a private Redis index on the embedded servers, and the worker
    and beat processes started against them with the commands `bi-agent up` uses."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    celery: Celery
    s3: S3Client
    folder: Path
    children: list[Child] = field(default_factory=list)

    def environment(self, **overrides: str) -> dict[str, str]:
        """What `bi-agent up` gives its children, with `overrides` (setting names in capitals)."""
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            BI_AGENT_HOME=str(self.settings.home),
            DATABASE_URL=str(self.settings.database_url),
            REDIS_URL=self.settings.redis_address(),
            MINIO_ENDPOINT=self.settings.s3_endpoint(),
            CELERY_BEAT_INTERVAL_SECONDS=str(BEAT_INTERVAL_SECONDS),
            # Two workers of a test, or of two test runs, would contend for the one metrics port.
            WORKER_METRICS_PORT="0",
        )
        env.update(overrides)
        return env

    def start(
        self, spec_name: str, label: str, overrides: Mapping[str, str], extra_arguments: tuple[str, ...] = ()
    ) -> Child:
        """Start `celery-worker` or `celery-beat` as the supervisor does, the environment
        changed by `overrides`."""
        spec = next(spec for spec in process_specs(self.settings) if spec.name == spec_name)
        log = self.folder / f"{label}.log"
        with log.open("ab") as output:
            # The folder has no `.env`, so the child reads exactly the environment given.
            process = processes.spawn(
                [*spec.argv, *extra_arguments], stdout=output, env=self.environment(**overrides), cwd=self.folder
            )
        child = Child(label, process, log)
        self.children.append(child)
        return child

    def spawn_worker(self, label: str, queues: str | None = None, **overrides: str) -> Child:
        """A worker started and not yet ready; `queues` narrows the queues it takes (the last
        `--queues` given wins), as a deployment with a worker per queue does."""
        # Each worker its own node name, so a second one never collides with the first.
        arguments: tuple[str, ...] = ("--hostname", f"{label}-{uuid.uuid4().hex[:6]}@%h")
        if queues is not None:
            arguments += ("--queues", queues)
        return self.start("celery-worker", label, overrides, arguments)

    def start_worker(self, label: str = "worker", **overrides: str) -> Child:
        worker = self.spawn_worker(label, **overrides)
        worker.wait_for_output(WORKER_READY)
        return worker

    def start_beat(self, label: str = "beat", **overrides: str) -> Child:
        return self.start("celery-beat", label, overrides)

    def submit(self, task: str, args: list[Any]) -> str:
        with self.engine.begin() as connection:
            return jobs.submit(self.celery, connection, task, args, {"test": task}, None)

    def job(self, job_id: str) -> jobs.JobStatus:
        with self.engine.connect() as connection:
            return jobs.status(self.celery, connection, job_id)

    def wait_for_job(
        self, job_id: str, until: Callable[[jobs.JobStatus], bool], timeout: float = 60
    ) -> tuple[jobs.JobStatus, list[str]]:
        """Poll the job as `GET /api/v1/jobs/{id}` does until `until` holds; return it and the
        states seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            status = self.job(job_id)
            if not seen or seen[-1] != status.state:
                seen.append(status.state)
            if until(status):
                return status, seen
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {child.name}\n{child.tail()}" for child in self.children)
                pytest.fail(f"job {job_id} still {status.state} after {timeout}s (seen {seen}):\n{logs}")
            time.sleep(0.02)

    def wait_until_finished(self, job_id: str, timeout: float = 60) -> tuple[jobs.JobStatus, list[str]]:
        return self.wait_for_job(job_id, lambda status: status.state in FINISHED, timeout)

    def held(self) -> list[str]:
        """The ids of the tasks whose messages workers hold unacknowledged (kombu's `unacked`)."""
        return [json.loads(payload)[0]["headers"]["id"] for payload in self.redis.hvals("unacked")]

    def wait_until_idle(self, keep: tuple[str, ...] = (), timeout: float = 30) -> None:
        """Until workers hold no message but those of the tasks in `keep`: every task started has ended."""
        deadline = time.monotonic() + timeout
        while sorted(self.held()) != sorted(keep):
            if time.monotonic() > deadline:
                pytest.fail(f"still held after {timeout}s: {self.held()} (expected {list(keep)})")
            time.sleep(0.05)

    def put_file(self, path: Path) -> dict[str, Any]:
        """Keep the file in bucket `datasets` as an upload does; return the import request for it."""
        sha256 = _sha256(path)
        self.s3.upload_file(str(path), self.settings.minio_bucket_datasets, sha256)
        return {
            "object_key": sha256,
            "sha256": sha256,
            "filename": path.name,
            "size_bytes": path.stat().st_size,
            "mode": "replace",
            "on_error": "fail",
        }

    def postgres_socket(self) -> str:
        """The Unix socket the embedded PostgreSQL listens on."""
        host = make_url(str(self.settings.database_url)).query["host"]
        assert isinstance(host, str)
        return str(next(Path(host).glob(".s.PGSQL.*")))


def copying(status: jobs.JobStatus) -> bool:
    """The import is inside its transaction, rows on their way into PostgreSQL."""
    progress = status.progress or {}
    return status.state == "PROGRESS" and progress.get("stage") == "copy" and progress["done"] < progress["total"]


def dataset_state(platform: Platform, dataset: str, sha256: str) -> tuple[int | None, int]:
    """Rows in analytics.<dataset> (None when there is no such table) and import records of the file."""
    with platform.engine.connect() as connection:
        exists = connection.execute(text("SELECT to_regclass(:name)"), {"name": f"analytics.{dataset}"}).scalar()
        counted = select(func.count()).select_from(table(dataset, schema="analytics"))
        rows = connection.execute(counted).scalar_one() if exists else None
        imports = connection.execute(
            text("SELECT count(*) FROM bi.imports WHERE sha256 = :sha256"), {"sha256": sha256}
        ).scalar_one()
    return rows, imports


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV file of ROWS orders."""
    rng = np.random.default_rng(4)
    orders = pa.table(
        {
            "order_id": np.arange(ROWS),
            "sold_at": np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 365 * 86400, ROWS).astype("m8[s]"),
            "region": rng.choice(["north", "south", "east", "west"], ROWS),
            "amount": np.round(rng.random(ROWS) * 100, 2),
        }
    )
    path = tmp_path_factory.mktemp("big") / "orders.csv"
    pa_csv.write_csv(orders, str(path))
    return path


@pytest.fixture
def platform(embedded: EmbeddedStack, tmp_path: Path) -> Iterator[Platform]:
    admin_url = make_url(embedded.addresses["postgres"]).set(drivername="postgresql", database="postgres")
    admin = admin_url.render_as_string(hide_password=False)
    name = f"bi_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database_url = make_url(embedded.addresses["postgres"]).set(database=name).render_as_string(hide_password=False)
    redis_url = embedded.addresses["redis"].rsplit("/", 1)[0] + f"/{FAULTS_REDIS_DB}"
    settings = embedded.settings(
        database_url=database_url, redis_url=redis_url, celery_beat_interval_seconds=BEAT_INTERVAL_SECONDS
    )
    engine = create_engine(settings.postgres_url())
    migrations.upgrade(engine)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    s3 = create_s3_client(settings)
    ensure_buckets(s3, settings.buckets)
    world = Platform(settings, engine, client, create_celery(settings), s3, tmp_path)
    try:
        yield world
    finally:
        for child in world.children:
            child.kill()
        world.celery.close()
        client.flushdb()
        client.close()
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
