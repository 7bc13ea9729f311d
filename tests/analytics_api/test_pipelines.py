"""The clean and deidentify pipelines of process_data over HTTP, run by a real Celery worker,
and bad arguments refused by the route or failed at once by the task, never retried."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import pytest
from sqlalchemy import text

from bi_agent.infra import jobs
from tests.analytics_api.conftest import Api, upload, wait_for_job

WARDS = b"day,ward,beds\n2024-01-01, north ,12\n2024-01-01,north,12\n2024-01-02,south,  \n"
VISITS = (
    b"patient_name,mrn,ssn,email,phone,date_of_birth,zip,age,visit_date,department,charges\n"
    b"Ann Smith,MRN0001,123-45-6789,ann@example.org,555-0101,1930-04-02,03601,95,2024-03-05,cardiology,1200.5\n"
    b"Bob Jones,MRN0002,987-65-4321,bob@example.org,555-0102,1984-11-23,10001,40,2024-07-19,oncology,830\n"
)
IDENTIFIERS = ("patient_name", "mrn", "ssn", "email", "phone", "date_of_birth", "zip")


def start(api: Api, role: str, dataset: str, pipeline: str) -> httpx2.Response:
    return api.client.post(
        "/api/v1/jobs",
        headers=api.headers(role),
        json={"task": "process_data", "args": {"dataset": dataset, "pipeline": pipeline}},
    )


def upload_and_wait(api: Api, name: str, content: bytes) -> None:
    job = wait_for_job(api, upload(api, name, f"{name}.csv", content).json()["job_id"])
    assert job["state"] == "SUCCESS", job["error"]


def test_clean_job_rewrites_the_dataset_and_its_rollups_follow(api: Api, worker: None) -> None:
    upload_and_wait(api, "wards", WARDS)
    metric = {"name": "ward_days", "dataset": "wards", "aggregation": "count", "time_column": "day"}
    created = api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=metric | {"dimensions": ["ward"]})
    assert created.status_code == 201, created.text

    started = start(api, "analyst", "wards", "clean")
    assert started.status_code == 202, started.text
    job = wait_for_job(api, started.json()["job_id"])

    assert job["state"] == "SUCCESS", job["error"]
    assert job["result"] == {
        "pipeline": "clean",
        "dataset": "wards",
        "rows_before": 3,
        "rows_after": 2,
        "duplicates_dropped": 1,
        "cells_trimmed": 2,
        "columns_coerced": {"beds": "bigint"},
        "data_version": 2,
        "changed": True,
    }
    detail = api.client.get("/api/v1/datasets/wards", headers=api.headers("viewer")).json()
    assert (detail["row_count"], detail["data_version"]) == (2, 2)
    assert [(c["name"], c["type"]) for c in detail["columns"]] == [
        ("day", "date"),
        ("ward", "text"),
        ("beds", "bigint"),
    ]
    rows = api.client.get("/api/v1/datasets/wards/rows", headers=api.headers("viewer")).json()["rows"]
    assert sorted(rows, key=str) == [["2024-01-01", "north", 12], ["2024-01-02", "south", None]]
    # As after an import, the worker refreshes the rebuilt rollups with the new data_version.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with api.engine.connect() as connection:
            versions = set(connection.execute(text("SELECT data_version FROM bi.rollups")).scalars())
        if versions == {2}:
            break
        time.sleep(0.1)
    assert versions == {2}


def test_deidentify_job_needs_phi_read_and_writes_a_copy_without_identifiers(api: Api, worker: None) -> None:
    upload_and_wait(api, "visits", VISITS)
    flags = {"columns": [{"name": name, "phi": True} for name in ("patient_name", "mrn", "date_of_birth", "zip")]}
    patched = api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("admin"), json=flags)
    assert patched.status_code == 200, patched.text

    denied = start(api, "analyst", "visits", "deidentify")
    assert denied.status_code == 403
    assert "needs the permission phi:read" in denied.json()["detail"]
    assert start(api, "viewer", "visits", "deidentify").status_code == 403
    started = start(api, "admin", "visits", "deidentify")
    assert started.status_code == 202, started.text
    job = wait_for_job(api, started.json()["job_id"])

    assert job["state"] == "SUCCESS", job["error"]
    result = job["result"]
    assert (result["pipeline"], result["dataset"], result["row_count"]) == ("deidentify", "visits_deid", 2)
    assert set(result["columns_dropped"]) == {"patient_name", "mrn", "ssn", "email", "phone"}
    assert set(result["columns_transformed"]) == {"date_of_birth", "zip", "age", "visit_date"}
    detail = api.client.get("/api/v1/datasets/visits_deid", headers=api.headers("viewer")).json()
    assert [(c["name"], c["type"], c["phi"]) for c in detail["columns"]] == [
        ("date_of_birth", "bigint", False),
        ("zip", "text", False),
        ("age", "text", False),
        ("visit_date", "bigint", False),
        ("department", "text", False),
        ("charges", "numeric", False),
    ]
    copy = api.client.get("/api/v1/datasets/visits_deid/rows", headers=api.headers("viewer")).json()
    assert sorted(copy["rows"], key=str) == [
        [1984, "100", "40", 2024, "oncology", 830],
        [None, "000", "90+", 2024, "cardiology", 1200.5],
    ]
    source = api.client.get("/api/v1/datasets/visits/rows", headers=api.headers("admin")).json()
    positions = [source["columns"].index(name) for name in IDENTIFIERS]
    originals = {str(row[position]) for row in source["rows"] for position in positions}
    copied = json.dumps(copy["rows"])
    assert len(originals) == 2 * len(IDENTIFIERS)
    assert [value for value in originals if value in copied] == []
    # The source's result says which columns went, never what they held.
    assert not any(value in json.dumps(result) for value in originals)


def test_pipeline_arguments_are_checked_by_the_route(api: Api) -> None:
    unknown = start(api, "analyst", "visits", "shred")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "args", "pipeline"]
    missing = start(api, "analyst", "nowhere", "clean")
    assert missing.status_code == 404 and missing.json()["detail"] == "no dataset named 'nowhere'"
    too_long = start(api, "admin", "v" * 59, "deidentify")
    assert too_long.status_code == 422 and "too long for a de-identified copy" in too_long.json()["detail"]
    with api.engine.begin() as connection:
        connection.execute(text("INSERT INTO bi.roles (name, description) VALUES ('runner', 'runs jobs')"))
        connection.execute(text("INSERT INTO bi.role_permissions (role, permission) VALUES ('runner', 'jobs:run')"))
    api.accounts["runner"] = api.add_account("runner", ["runner"])
    read_only = start(api, "runner", "nowhere", "clean")
    assert read_only.status_code == 403 and "needs the permission datasets:write" in read_only.json()["detail"]


def states_until_done(api: Api, job_id: str, timeout: float = 60) -> tuple[list[str], dict[str, Any]]:
    """Every state the job was seen in, and the job once done."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.client.get(f"/api/v1/jobs/{job_id}", headers=api.headers("analyst")).json()
        if not seen or seen[-1] != job["state"]:
            seen.append(job["state"])
        if job["state"] in ("SUCCESS", "FAILURE"):
            return seen, dict(job)
        time.sleep(0.05)
    pytest.fail(f"job {job_id} still {seen[-1]} after {timeout}s")


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["wards", "shred"], "unknown pipeline 'shred'; process_data runs: profile, clean, deidentify"),
        (["nowhere", "clean"], "no dataset named 'nowhere'"),
        (["v" * 59, "deidentify"], "too long for a de-identified copy"),
    ],
    ids=["unknown-pipeline", "unknown-dataset", "name-too-long"],
)
def test_a_task_with_bad_arguments_fails_at_once(api: Api, worker: None, arguments: list[str], error: str) -> None:
    # Sent as the queue would carry it, past the route's checks.
    with api.engine.begin() as connection:
        job_id = jobs.submit(api.app.state.connections.celery, connection, "process_data", arguments, {}, None)
    seen, job = states_until_done(api, job_id)
    assert job["state"] == "FAILURE"
    assert error in job["error"]
    assert "RETRY" not in seen


@pytest.mark.parametrize("postgres", ["postgres18"], indirect=True)
@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
def test_a_task_that_postgresql_refuses_fails_at_once(api: Api, worker: None) -> None:
    # A row of 1,100 numbers (8.8 kB) is more than a PostgreSQL page holds: every try would fail
    # the same way. (More than 1,600 columns is refused in the request already.)
    header = ",".join(["day", *(f"c{index}" for index in range(1100))])
    row = ",".join(["2024-01-01", *("1" for _ in range(1100))])
    job_id = upload(api, "wide", "wide.csv", f"{header}\n{row}\n".encode()).json()["job_id"]
    seen, job = states_until_done(api, job_id, timeout=20)
    assert job["state"] == "FAILURE" and "RETRY" not in seen, seen
    assert "ProgramLimitExceeded: row is too big" in job["error"], job["error"]
