"""Datasets over HTTP, with a real Celery worker running the imports on real Redis."""

from __future__ import annotations

import pytest

from tests.analytics_api.conftest import Api, upload, wait_for_job

VISITS = (
    b"Visit Date,Region,Charges,Length of Stay\n2024-01-01,north,120.5,3\n2024-01-02,south,80,1\n2024-01-02,north,,2\n"
)


def test_upload_import_read_and_drop(api: Api, worker: None) -> None:
    response = upload(api, "visits", "visits.csv", VISITS)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["dataset"] == "visits" and body["duplicate"] is False
    job = wait_for_job(api, body["job_id"])
    assert job["state"] == "SUCCESS", job
    assert job["task"] == "import_data"
    assert job["result"]["rows_imported"] == 3
    assert job["submitted_by"] == api.accounts["analyst"].username

    detail = api.client.get("/api/v1/datasets/visits", headers=api.headers("viewer")).json()
    assert (detail["row_count"], detail["data_version"]) == (3, 1)
    assert [(c["name"], c["type"], c["role"], c["phi"]) for c in detail["columns"]] == [
        ("visit_date", "date", "time", False),
        ("region", "text", "dimension", False),
        ("charges", "numeric", "measure", False),
        ("length_of_stay", "bigint", "measure", False),
    ]
    assert detail["imports"][0]["column_mapping"]["Visit Date"] == "visit_date"
    assert detail["imports"][0]["job_id"] == body["job_id"]

    listing = api.client.get("/api/v1/datasets", headers=api.headers("viewer")).json()
    assert listing["total"] == 1 and listing["items"][0]["name"] == "visits"

    rows = api.client.get("/api/v1/datasets/visits/rows?limit=2&offset=1", headers=api.headers("viewer")).json()
    assert rows["columns"] == ["visit_date", "region", "charges", "length_of_stay"]
    assert rows["total"] == 3 and len(rows["rows"]) == 2

    again = upload(api, "visits", "copy-of-visits.csv", VISITS)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["import"]["rows_imported"] == 3

    patched = api.client.patch(
        "/api/v1/datasets/visits/columns",
        headers=api.headers("analyst"),
        json={"columns": [{"name": "length_of_stay", "role": "dimension"}]},
    )
    assert patched.status_code == 200, patched.text
    assert api.client.delete("/api/v1/datasets/visits", headers=api.headers("viewer")).status_code == 403
    assert api.client.delete("/api/v1/datasets/visits", headers=api.headers("analyst")).status_code == 204
    missing = api.client.get("/api/v1/datasets/visits", headers=api.headers("viewer"))
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no dataset named 'visits'"


def test_bad_file_is_a_422_naming_the_line_and_nothing_is_queued(api: Api) -> None:
    response = upload(api, "visits", "visits.csv", b"a,b\n1,2\n3\n")
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert (
        problem["detail"] == "visits.csv: line 3: expected 2 fields, found 1; fix the row or import with on_error=skip"
    )
    # The same for programs (the web shows the line on its own).
    assert problem["errors"] == [
        {
            "loc": ["file"],
            "msg": "line 3: expected 2 fields, found 1; fix the row or import with on_error=skip",
            "file": "visits.csv",
            "line": 3,
        }
    ]
    jobs = api.client.get("/api/v1/jobs", headers=api.headers("analyst")).json()
    assert jobs["total"] == 0


@pytest.mark.parametrize(
    ("form", "status", "detail"),
    [
        ({"name": "Bad-Name"}, 422, "dataset name 'Bad-Name' is not a plain identifier"),
        ({"name": "ok", "mode": "merge"}, 422, "mode"),
        ({"name": "ok", "on_error": "ignore"}, 422, "on_error"),
    ],
)
def test_bad_form_fields(api: Api, form: dict[str, str], status: int, detail: str) -> None:
    fields = dict(form)
    response = upload(api, fields.pop("name"), "x.csv", b"a\n1\n", **fields)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_append_with_other_columns_is_refused(api: Api, worker: None) -> None:
    job = upload(api, "visits", "visits.csv", VISITS).json()["job_id"]
    assert wait_for_job(api, job)["state"] == "SUCCESS"
    response = upload(api, "visits", "other.csv", b"Visit Date,Ward\n2024-01-01,a\n", mode="append")
    assert response.status_code == 422
    assert (
        "missing columns region, charges, length_of_stay; columns not in the dataset ward" in response.json()["detail"]
    )


def test_viewer_cannot_upload_and_strangers_cannot_read(api: Api) -> None:
    assert upload(api, "visits", "visits.csv", VISITS, role="viewer").status_code == 403
    assert api.client.get("/api/v1/datasets").status_code == 401
    assert api.client.get("/api/v1/jobs/nope", headers=api.headers("analyst")).status_code == 404


def test_phi_flags_need_phi_read(api: Api, worker: None) -> None:
    job = upload(api, "visits", "visits.csv", VISITS).json()["job_id"]
    assert wait_for_job(api, job)["state"] == "SUCCESS"
    body = {"columns": [{"name": "region", "phi": True}]}
    denied = api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("analyst"), json=body)
    assert denied.status_code == 403
    allowed = api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("admin"), json=body)
    assert allowed.status_code == 200
    assert next(c for c in allowed.json()["columns"] if c["name"] == "region")["phi"] is True
    # Row output masks the PHI column for a caller without phi:read, and says so.
    masked = api.client.get("/api/v1/datasets/visits/rows", headers=api.headers("viewer")).json()
    assert masked["masked"] == ["region"] and {row[1] for row in masked["rows"]} == {None}
    shown = api.client.get("/api/v1/datasets/visits/rows", headers=api.headers("admin")).json()
    assert shown["masked"] == [] and None not in {row[1] for row in shown["rows"]}
    # So does the export: the column is there, empty, and named in X-Masked-Columns.
    exported = api.client.get("/api/v1/datasets/visits/export", headers=api.headers("viewer"))
    assert exported.headers["X-Masked-Columns"] == "region"
    assert {line.split(",")[1] for line in exported.text.splitlines()[1:]} == {""}
    assert "north" in api.client.get("/api/v1/datasets/visits/export", headers=api.headers("admin")).text
    wrong_role = {"columns": [{"name": "region", "role": "measure"}]}
    refused = api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("analyst"), json=wrong_role)
    assert refused.status_code == 422
    assert "only numbers can be measures" in refused.json()["detail"]


def test_profile_job_and_route(api: Api, worker: None) -> None:
    job = wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])
    assert job["state"] == "SUCCESS", job["error"]
    missing = api.client.get("/api/v1/datasets/visits/profile", headers=api.headers("viewer"))
    assert missing.status_code == 404 and "has no profile yet" in missing.json()["detail"]
    bad = api.client.post(
        "/api/v1/jobs", headers=api.headers("analyst"), json={"task": "process_data", "args": {"dataset": "visits"}}
    )
    assert bad.status_code == 422 and "needs args.dataset and args.pipeline" in bad.json()["detail"]
    started = api.client.post(
        "/api/v1/jobs",
        headers=api.headers("analyst"),
        json={"task": "process_data", "args": {"dataset": "visits", "pipeline": "profile"}},
    )
    assert started.status_code == 202, started.text
    assert wait_for_job(api, started.json()["job_id"])["state"] == "SUCCESS"
    profile = api.client.get("/api/v1/datasets/visits/profile", headers=api.headers("viewer")).json()
    assert profile["row_count"] == 3 and profile["stale"] is False
    assert {column["name"] for column in profile["columns"]} == {"visit_date", "region", "charges", "length_of_stay"}


@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
def test_profile_shows_phi_columns_as_counts_only(api: Api, worker: None) -> None:
    """A PHI date column has no histogram by month, no min and no max; nor has a column flagged
    PHI after the profile was computed."""
    job = wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])
    assert job["state"] == "SUCCESS", job["error"]
    flag = {"columns": [{"name": "visit_date", "phi": True}]}
    assert api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("admin"), json=flag).is_success
    started = api.client.post(
        "/api/v1/jobs",
        headers=api.headers("analyst"),
        json={"task": "process_data", "args": {"dataset": "visits", "pipeline": "profile"}},
    )
    assert wait_for_job(api, started.json()["job_id"])["state"] == "SUCCESS"
    later = {"columns": [{"name": "charges", "phi": True}]}
    assert api.client.patch("/api/v1/datasets/visits/columns", headers=api.headers("admin"), json=later).is_success

    profile = api.client.get("/api/v1/datasets/visits/profile", headers=api.headers("viewer")).json()
    columns = {column["name"]: column for column in profile["columns"]}
    for name, nulls, distinct in (("visit_date", 0, 2), ("charges", 1, 2)):
        assert columns[name]["phi"] is True and columns[name]["histogram"] == []
        assert (columns[name]["nulls"], columns[name]["distinct"]) == (nulls, distinct)
        assert "min" not in columns[name] and "max" not in columns[name]
    assert "2024-01" not in str(columns["visit_date"]) and "120.5" not in str(columns["charges"])
    assert columns["length_of_stay"]["max"] == 3 and columns["length_of_stay"]["histogram"]
