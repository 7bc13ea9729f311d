"""No PHI leaks, in HIPAA mode: canary values planted in PHI columns are used in every way a
client can (imports, previews, queries, filters, bad files) and met by tasks that fail on them,
then looked for in every Redis key and value (task results included), in every log record and
its traceback, in the job replies and in the jobs ledger. None may be found."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import text

from bi_agent.infra import jobs
from tests.analytics_api.conftest import Api, open_api, upload, wait_for_job
from tests.conftest import EmbeddedStack

CANARIES = ("Quenby Canaryfield", "MRN-7316509", "canary.patient@example.org")
VISITS = (
    "visit_date,region,patient_name,mrn,contact,charges\n"
    f"2024-01-01,north,{CANARIES[0]},{CANARIES[1]},{CANARIES[2]},100\n"
    "2024-01-02,south,Ann Other,MRN-1000001,ann@example.org,50\n"
    "2024-01-03,north,Bo Third,MRN-1000002,bo@example.org,25\n"
).encode()
# Charges by month, groupable by the PHI columns the canaries sit in.
CHARGES = {
    "name": "charges",
    "dataset": "visits",
    "aggregation": "sum",
    "column": "charges",
    "time_column": "visit_date",
    "dimensions": ["region", "patient_name", "mrn"],
}


@pytest.fixture
def api(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url, hipaa_mode=True) as opened:
        yield opened


def purpose(api: Api, role: str) -> dict[str, str]:
    return {**api.headers(role), "X-Purpose": "OPERATIONS"}


def everything_in(client: redis.Redis) -> bytes:
    """Every key and every value of the database, as one blob."""
    parts: list[Any] = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key))
        elif kind == b"hash":
            parts += [item for pair in client.hgetall(key).items() for item in pair]
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"set":
            parts += client.smembers(key)
        elif kind == b"zset":
            parts += client.zrange(key, 0, -1)
    return b"\n".join(part if isinstance(part, bytes) else str(part).encode() for part in parts if part is not None)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record as a handler would write it: its message and its traceback, and what
    Celery hands its handlers besides (`data`: the exception and traceback as text)."""
    formatter = logging.Formatter()
    return "\n".join(
        f"{record.getMessage()} {formatter.formatException(record.exc_info) if record.exc_info else ''} "
        f"{getattr(record, 'data', '')}"
        for record in caplog.records
    )


def fail_training_on(api: Api, column: str, catalog_type: str) -> str:
    """Train on `column` after telling the catalog it is `catalog_type`: the worker then reads its
    text as that type and fails on the first row's value, outside any check of the platform's own
    (numpy's conversion for a boolean, PostgreSQL's cast for a number). Returns the job id."""
    with api.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE bi.dataset_columns SET data_type = :type WHERE name = :column "
                "AND dataset_id = (SELECT id FROM bi.datasets WHERE name = 'visits')"
            ),
            {"type": catalog_type, "column": column},
        )
    # The catalog change commits before the job is queued: a worker quick enough to plan it
    # before the commit would otherwise read the column as text and fail on the row count.
    request = {"model": f"on_{column}", "dataset": "visits", "target": "charges", "task": "regression",
               "features": [column], "may_read_phi": True}  # fmt: skip
    with api.engine.begin() as connection:
        return jobs.submit(
            api.app.state.connections.celery, connection, "train_model", [request], {"model": request["model"]}, None
        )


def test_canary_phi_never_reaches_redis_logs_or_errors(
    api: Api, worker: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job = wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])
    assert job["state"] == "SUCCESS", job["error"]
    columns = api.client.get("/api/v1/datasets/visits", headers=api.headers("admin")).json()["columns"]
    assert {column["name"] for column in columns if column["phi"]} == {"patient_name", "mrn", "contact"}
    assert api.client.post("/api/v1/metrics", headers=api.headers("admin"), json=CHARGES).status_code == 201

    # An admin reads the PHI itself, twice (a cache would keep it the second time).
    for _ in range(2):
        grouped = api.client.post(
            "/api/v1/query",
            headers=purpose(api, "admin"),
            json={"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01",
                  "group_by": ["patient_name"]},
        )  # fmt: skip
        assert grouped.status_code == 200 and CANARIES[0] in grouped.text
    shown = api.client.get("/api/v1/datasets/visits/rows", headers=purpose(api, "admin"))
    assert CANARIES[1] in shown.text
    # Others are refused or masked, and the refusals do not repeat what they were sent.
    masked = api.client.get("/api/v1/datasets/visits/rows", headers=purpose(api, "viewer"))
    assert masked.status_code == 200 and not any(canary in masked.text for canary in CANARIES)
    filtered = api.client.post(
        "/api/v1/query",
        headers=purpose(api, "viewer"),
        json={"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01",
              "filters": [{"dimension": "mrn", "op": "eq", "value": CANARIES[1]}]},
    )  # fmt: skip
    assert filtered.status_code == 403 and CANARIES[1] not in filtered.text
    typed = api.client.post(
        "/api/v1/query",
        headers=purpose(api, "admin"),
        json={"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01",
              "filters": [{"dimension": "charges", "op": "eq", "value": CANARIES[0]}]},
    )  # fmt: skip
    assert typed.status_code == 422 and CANARIES[0] not in typed.text
    broken = VISITS + f"2024-01-04,north,{CANARIES[0]},{CANARIES[1]}\n".encode()
    refused = upload(api, "visits", "broken.csv", broken)
    assert refused.status_code == 422 and not any(canary in refused.text for canary in CANARIES)
    profile = api.client.post(
        "/api/v1/jobs",
        headers=purpose(api, "admin"),
        json={"task": "process_data", "args": {"dataset": "visits", "pipeline": "profile"}},
    )
    assert wait_for_job(api, profile.json()["job_id"])["state"] == "SUCCESS"
    assert not any(
        canary in api.client.get("/api/v1/datasets/visits/profile", headers=purpose(api, "admin")).text
        for canary in CANARIES
    )

    # Tasks that fail on a PHI value: their result, traceback, log lines and job reply.
    for column, catalog_type, error in (
        ("mrn", "boolean", "ValueError: could not convert string to float"),
        ("contact", "bigint", "InvalidTextRepresentation: invalid input syntax for type double precision"),
    ):
        failed = wait_for_job(api, fail_training_on(api, column, catalog_type))
        assert failed["state"] == "FAILURE" and error in failed["error"], failed["error"]
        assert not any(canary in str(failed) for canary in CANARIES), failed
    listed = api.client.get("/api/v1/jobs", headers=api.headers("analyst"))
    assert [item["state"] for item in listed.json()["items"]].count("FAILURE") == 2
    with api.engine.connect() as connection:
        ledger = connection.execute(text("SELECT coalesce(string_agg(j::text, ' '), '') FROM bi.jobs j")).scalar_one()

    client = redis.Redis.from_url(api.settings.redis_address())
    try:
        stored = everything_in(client)
    finally:
        client.close()
    records = logged(caplog)
    assert "could not convert string to float" in records  # the worker's own line of the failure
    for canary in CANARIES:
        assert canary.encode() not in stored, f"{canary} is in Redis"
        assert canary not in records, f"{canary} is in a log record"
        assert canary not in listed.text, f"{canary} is in the list of jobs"
        assert canary not in ledger, f"{canary} is in bi.jobs"
