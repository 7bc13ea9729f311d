"""An ML service on a fresh, migrated database, with the Analytics API's role accounts, the
synthetic datasets of tests/ml loaded through the import, and an in-process worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bi_agent.catalog import analytics_jobs
from bi_agent.ml_service.app import create_app
from tests.analytics_api.conftest import Api, open_api, running_worker
from tests.catalog.conftest import load, s3  # noqa: F401 (fixtures used by the tests here)
from tests.conftest import EmbeddedStack
from tests.ml.conftest import churn, prices  # noqa: F401 (as above)


@pytest.fixture
def ml(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url, create=create_app) as opened:
        yield opened


@pytest.fixture
def ml_worker(ml: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with running_worker(ml.settings, monkeypatch):
        yield


def wait_for_job(ml: Api, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """The job's status once it finished, read as `GET /api/v1/jobs/{id}` reads it."""
    deadline = time.monotonic() + timeout
    while True:
        with ml.engine.connect() as connection:
            status = analytics_jobs.job_status(ml.app.state.connections.celery, connection, job_id).model_dump(
                mode="json"
            )
        if status["state"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)
