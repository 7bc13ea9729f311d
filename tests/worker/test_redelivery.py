"""A worker killed in the middle of an import: the import runs again, and the dataset ends
with exactly the file's rows, none lost and none doubled."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.worker.conftest import ROWS, WORKER_READY, Platform, copying, dataset_state

pytestmark = pytest.mark.faults


def assert_imported_once(
    platform: Platform, job_id: str, dataset: str, sha256: str, still_held: tuple[str, ...] = ()
) -> None:
    status, seen = platform.wait_until_finished(job_id)
    assert status.state == "SUCCESS", f"{status.error} (seen {seen})"
    assert status.result["rows_imported"] == ROWS and status.result["duplicate"] is False
    assert dataset_state(platform, dataset, sha256) == (ROWS, 1)
    # Every message was acknowledged once its task ended (the refresh and KPIs that follow an
    # import included): nothing is left to run the import a third time.
    platform.wait_until_idle(keep=still_held)
    assert platform.redis.llen("data") == 0


def test_worker_killed_mid_import_is_recovered_by_the_next_worker(platform: Platform, big_file: Path) -> None:
    request = {"dataset": "orders", **platform.put_file(big_file)}
    # A second live worker, on queue `ml` only, keeps a task for later: the worker started
    # after the kill must leave that message alone and take back only the dead one's.
    first = platform.spawn_worker("first-worker", queues="data")
    keeper = platform.spawn_worker("keeper-worker", queues="ml")
    for worker in (first, keeper):
        worker.wait_for_output(WORKER_READY)
    later = platform.celery.send_task("update_ml_models", countdown=600).id
    platform.wait_until_idle(keep=(later,))

    job_id = platform.submit("import_data", [request])
    platform.wait_for_job(job_id, copying)
    first.kill()
    # Its transaction died with it: nothing of the file is in the catalog.
    assert dataset_state(platform, "orders", request["sha256"]) == (None, 0)
    assert sorted(platform.held()) == sorted([job_id, later]), "the killed worker's message waits, unacknowledged"

    # The next worker takes the message back as it starts, not after the visibility timeout (hours).
    second = platform.start_worker("second-worker")
    assert f"task {job_id} was held by a worker that is gone" in second.output()
    assert_imported_once(platform, job_id, "orders", request["sha256"], still_held=(later,))
    assert "is gone" not in keeper.output() and second.output().count("is gone") == 1


def test_pool_process_killed_mid_import_is_requeued_at_once(platform: Platform, big_file: Path) -> None:
    request = {"dataset": "orders", **platform.put_file(big_file)}
    worker = platform.start_worker()
    job_id = platform.submit("import_data", [request])
    platform.wait_for_job(job_id, copying)
    # The pool processes die (the OOM killer, say); the worker itself lives on and gives
    # the message back to the queue (reject_on_worker_lost), then runs it again.
    for child in psutil.Process(worker.process.pid).children(recursive=True):
        child.kill()
    assert_imported_once(platform, job_id, "orders", request["sha256"])
    assert "WorkerLostError" in worker.output()
