"""PostgreSQL or Redis out of reach for a few seconds: the task retries and succeeds. Bad
arguments: the task fails at once, saying why, with no retry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.worker.conftest import ROWS, Platform, copying, dataset_state
from tests.worker.tcp_proxy import TcpProxy

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 3.0
# Rows reach PostgreSQL through a proxy this slow (bytes a second), so the copy of the big file
# lasts about ten seconds and the test cuts it off inside the copy on any machine; a fast one
# otherwise finishes the copy between two polls of the job.
SLOW_POSTGRES = 4_000_000


def _through(proxy: TcpProxy, database_url: str) -> str:
    database = make_url(database_url).database
    return f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}"


def test_postgres_cut_off_mid_import_retries_and_succeeds(platform: Platform, big_file: Path) -> None:
    with TcpProxy(platform.postgres_socket(), rate=SLOW_POSTGRES) as proxy:
        worker = platform.start_worker(DATABASE_URL=_through(proxy, str(platform.settings.database_url)))
        request = {"dataset": "orders", **platform.put_file(big_file)}
        job_id = platform.submit("import_data", [request])
        platform.wait_for_job(job_id, copying)
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.rate = None
        proxy.restore()
        status, seen = platform.wait_until_finished(job_id)
    assert status.state == "SUCCESS", f"{status.error} (seen {seen})"
    assert "RETRY" in seen and "retry: Retry in" in worker.output()
    assert status.result["rows_imported"] == ROWS
    assert dataset_state(platform, "orders", request["sha256"]) == (ROWS, 1)


def test_redis_cut_off_mid_import_retries_and_succeeds(platform: Platform, big_file: Path) -> None:
    address = make_url(platform.settings.redis_address())
    with (
        TcpProxy((str(address.host), int(address.port or 6379))) as proxy,
        TcpProxy(platform.postgres_socket(), rate=SLOW_POSTGRES) as postgres,
    ):
        worker = platform.start_worker(
            # The embedded Valkey's password goes through the proxy with the rest.
            REDIS_URL=f"redis://:{address.password}@127.0.0.1:{proxy.port}/{address.database}",
            DATABASE_URL=_through(postgres, str(platform.settings.database_url)),
        )
        request = {"dataset": "orders", **platform.put_file(big_file)}
        job_id = platform.submit("import_data", [request])
        platform.wait_for_job(job_id, copying)
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        postgres.rate = None
        status, seen = platform.wait_until_finished(job_id)
        assert status.state == "SUCCESS", f"{status.error} (seen {seen})\n{worker.tail()}"
        # The task's progress waited for Redis instead of failing the import.
        assert "Failed operation _store_result. Retrying" in worker.output()
        platform.wait_until_idle()
        # The worker itself lived through it, reconnected, and takes new work.
        assert worker.process.poll() is None
        after, _ = platform.wait_until_finished(platform.submit("calculate_kpis", []), timeout=30)
        assert after.state == "SUCCESS"
    assert status.result["rows_imported"] == ROWS and status.result["duplicate"] is False
    assert dataset_state(platform, "orders", request["sha256"]) == (ROWS, 1)


def test_bad_arguments_fail_at_once_without_retry(platform: Platform) -> None:
    worker = platform.start_worker()
    unknown_pipeline = platform.submit("process_data", ["orders", "shuffle"])
    missing_file = platform.submit(
        "import_data",
        [
            {
                "dataset": "orders",
                "object_key": "0" * 64,
                "sha256": "0" * 64,
                "filename": "gone.csv",
                "size_bytes": 10,
                "mode": "replace",
            }
        ],
    )
    for job_id, message in (
        (unknown_pipeline, "unknown pipeline 'shuffle'"),
        (missing_file, "gone.csv: the uploaded file is no longer in bucket datasets"),
    ):
        status, seen = platform.wait_until_finished(job_id, timeout=30)
        assert status.state == "FAILURE" and "RETRY" not in seen, seen
        assert status.error is not None and message in status.error, status.error
    assert "retry: Retry in" not in worker.output()
