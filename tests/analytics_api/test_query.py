"""Metrics and queries over HTTP: definitions checked against the schema, answers from the
rollup after a refresh job, the cache per access scope, and who may do what."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from tests.analytics_api.conftest import Api, upload, wait_for_job

VISITS = (
    b"visit_date,region,department,charges,patient\n"
    b"2024-01-01,north,er,100,a\n"
    b"2024-01-01,south,er,50,b\n"
    b"2024-01-02,north,icu,300,a\n"
    b"2024-02-10,north,er,25,c\n"
)


def metric(name: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "dataset": "visits",
        "aggregation": "sum",
        "column": "charges",
        "time_column": "visit_date",
        "dimensions": ["region", "department"],
    }
    body.update(fields)
    return body


@pytest.fixture
def visits(api: Api, worker: None) -> Api:
    job = wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])
    assert job["state"] == "SUCCESS", job["error"]
    response = api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=metric("charges"))
    assert response.status_code == 201, response.text
    return api


def query(api: Api, role: str = "viewer", **fields: Any) -> Any:
    body: dict[str, Any] = {"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01"}
    body.update(fields)
    return api.client.post("/api/v1/query", headers=api.headers(role), json=body)


def test_define_refresh_query_and_cache(visits: Api) -> None:
    api = visits
    first = query(api, group_by=["region"])
    assert first.status_code == 200, first.text
    body = first.json()
    assert first.headers["X-Cache"] == "MISS" and body["cached"] is False
    assert body["columns"] == ["period", "region", "charges"]
    assert body["rows"] == [["2024-01-01", "north", 400], ["2024-01-01", "south", 50], ["2024-02-01", "north", 25]]
    # The rollup was built with the metric and is empty until a refresh fills it.
    assert body["source"] == "table"

    again = query(api, group_by=["region"])
    assert again.headers["X-Cache"] == "HIT" and again.json()["cached"] is True
    assert again.json()["rows"] == body["rows"]
    assert query(api, role="admin", group_by=["region"]).headers["X-Cache"] == "MISS"

    job = api.client.post(
        "/api/v1/jobs",
        headers=api.headers("analyst"),
        json={"task": "refresh_analytics_views", "args": {"dataset": "visits"}},
    )
    assert job.status_code == 202, job.text
    done = wait_for_job(api, job.json()["job_id"])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["refreshed"][0]["dataset"] == "visits"
    daily = query(api, grain="day", filters=[{"dimension": "department", "op": "eq", "value": "er"}])
    assert daily.json()["source"] == "rollup"
    assert daily.json()["rows"] == [["2024-01-01", 150], ["2024-02-10", 25]]

    # The refresh queued calculate_kpis; February 1-10 against January 1-10.
    deadline = time.monotonic() + 30
    while not (cards := api.client.get("/api/v1/kpis?grain=month", headers=api.headers("viewer")).json())["items"]:
        assert time.monotonic() < deadline, "no KPI snapshot after the refresh"
        time.sleep(0.2)
    card = cards["items"][0]
    assert (card["metric"], card["period_start"], card["value"], card["previous_value"]) == (
        "charges",
        "2024-02-01",
        25.0,
        450.0,
    )
    assert card["change_pct"] == pytest.approx(-94.44, abs=0.01)


def test_metric_definitions_are_checked(visits: Api) -> None:
    api = visits
    cases = [
        (metric("bad", column="nope"), 422, "column 'nope': dataset visits has no such column"),
        (metric("bad", column="region"), 422, "column region is text; sum needs a number column"),
        (metric("bad", time_column="region"), 422, "time_column region is not a date or timestamp column"),
        (metric("Bad Name"), 422, "metric name 'Bad Name' is not a plain identifier"),
        (metric("bad", dataset="nowhere"), 404, "no dataset named 'nowhere'"),
        (metric("charges"), 409, "a metric named 'charges' exists already"),
        (metric("bad", aggregation="median"), 422, "aggregation"),
    ]
    for body, status, detail in cases:
        response = api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=body)
        assert response.status_code == status, (body, response.text)
        assert detail in response.json()["detail"], response.json()


def test_metric_crud_and_permissions(visits: Api) -> None:
    api = visits
    assert api.client.post("/api/v1/metrics", headers=api.headers("viewer"), json=metric("x")).status_code == 403
    listed = api.client.get("/api/v1/metrics?dataset=visits", headers=api.headers("viewer")).json()
    assert [item["name"] for item in listed["items"]] == ["charges"]
    patched = api.client.patch(
        "/api/v1/metrics/charges", headers=api.headers("analyst"), json={"aggregation": "avg", "description": "mean"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["aggregation"] == "avg" and patched.json()["column"] == "charges"
    assert query(api).json()["rows"] == [["2024-01-01", 150.0], ["2024-02-01", 25.0]]
    assert api.client.delete("/api/v1/metrics/charges", headers=api.headers("viewer")).status_code == 403
    assert api.client.delete("/api/v1/metrics/charges", headers=api.headers("analyst")).status_code == 204
    gone = query(api)
    assert gone.status_code == 422 and gone.json()["detail"] == "unknown metric 'charges'"


def test_bad_queries_are_422_with_the_field(visits: Api) -> None:
    api = visits
    late = query(api, end="2023-01-01")
    assert late.status_code == 422
    assert "end must be after start" in late.json()["detail"]
    grain = query(api, grain="hour")
    assert grain.status_code == 422 and grain.json()["errors"][0]["loc"] == ["body", "grain"]
    dimension = query(api, group_by=["patient"])
    assert dimension.status_code == 422
    assert "unknown dimension 'patient'" in dimension.json()["detail"]
    injected = query(api, group_by=['region"; DROP TABLE bi.users; --'])
    assert injected.status_code == 422


def test_replace_that_breaks_a_metric_is_refused(visits: Api) -> None:
    api = visits
    response = upload(
        api, "visits", "new.csv", b"visit_date,region,department,cost\n2024-01-01,n,er,1\n", mode="replace"
    )
    assert response.status_code == 202  # the file itself is fine; the import job finds the conflict
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "FAILURE"
    assert "it would break metric charges" in job["error"]
    assert query(api).json()["rows"][0][1] == 450


@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
def test_compare_and_the_ends_of_the_calendar(visits: Api) -> None:
    """A period before that would begin before 0001-01-01 is a 422 naming compare, not a 500;
    ranges that reach the calendar's last day are answered."""
    api = visits
    out_of_calendar = [
        {"grain": "day", "start": "0001-01-01", "end": "2025-01-01"},
        {"grain": "day", "start": "2024-01-01", "end": "9999-12-31"},
        {"grain": "day", "start": "0001-01-01", "end": "9999-12-31"},
        {"grain": "week", "start": "0001-01-01", "end": "2025-01-01"},
        {"grain": "month", "start": "0001-01-01T00:00:00+05:00", "end": "2025-01-01"},
        {"grain": "year", "start": "0001-01-01", "end": "2025-01-01"},
        {"grain": "year", "start": "0001-06-01", "end": "9999-12-31"},
    ]
    for body in out_of_calendar:
        refused = query(api, compare="previous_period", **body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["loc"] == ["body", "compare"], refused.json()
        assert "would begin before 0001-01-01, the calendar's first day" in refused.json()["detail"]
    # The year 9999 has a year before it: only counting its periods once overflowed.
    last_year = query(api, grain="year", start="9999-06-01", end="9999-12-31", compare="previous_period")
    assert last_year.status_code == 200, last_year.text
    assert last_year.json()["columns"] == ["period", "charges", "charges_previous", "charges_change_pct"]
    for grain in ("day", "week", "month", "quarter", "year"):
        to_the_end = query(api, grain=grain, start="2024-01-01", end="9999-12-31")
        assert to_the_end.status_code == 200, (grain, to_the_end.text)
        assert sum(row[1] for row in to_the_end.json()["rows"]) == 475
        back = query(api, grain=grain, start="2024-01-01", end="2025-01-01", compare="previous_period")
        assert back.status_code == 200 and back.json()["rows"][0][2] is None, (grain, back.text)


def test_a_repeated_query_is_answered_without_postgresql(visits: Api) -> None:
    api = visits
    assert query(api, group_by=["region"]).headers["X-Cache"] == "MISS"
    # Renaming the data table touches nothing the epoch watches: only a reply kept
    # whole, read with no PostgreSQL at all, can still answer.
    with api.engine.begin() as connection:
        connection.execute(text("ALTER TABLE analytics.visits RENAME TO visits_away"))
    try:
        again = query(api, group_by=["region"])
        assert again.status_code == 200 and again.headers["X-Cache"] == "HIT"
        assert again.json()["cached"] is True and again.json()["rows"][1] == ["2024-01-01", "south", 50]
    finally:
        with api.engine.begin() as connection:
            connection.execute(text("ALTER TABLE analytics.visits_away RENAME TO visits"))


def test_kept_replies_give_way_to_changes(visits: Api) -> None:
    api = visits
    assert query(api, role="analyst").json()["rows"][0] == ["2024-01-01", 450]
    assert query(api, role="analyst").headers["X-Cache"] == "HIT"

    # A changed metric: the very next query is computed again.
    changed = api.client.patch(
        "/api/v1/metrics/charges",
        headers=api.headers("analyst"),
        json={"filters": [{"dimension": "region", "op": "eq", "value": "north"}]},
    )
    assert changed.status_code == 200, changed.text
    after = query(api, role="analyst")
    assert after.headers["X-Cache"] == "MISS" and after.json()["rows"][0] == ["2024-01-01", 400]

    # A caller whose role is taken away is refused at once, kept reply or not.
    analyst = api.accounts["analyst"]
    taken = api.client.put(f"/api/v1/users/{analyst.id}/roles", headers=api.headers("admin"), json={"roles": []})
    assert taken.status_code == 200, taken.text
    refused = query(api, role="analyst")
    assert refused.status_code == 403 and "queries:run" in refused.json()["detail"]


def test_answers_stay_right_while_the_epoch_is_unknown(visits: Api) -> None:
    api = visits
    api.app.state.catalog_epoch.stop()  # as while PostgreSQL is unreachable: nothing kept is trusted
    first = query(api)
    assert first.headers["X-Cache"] == "MISS"
    with api.engine.begin() as connection:
        connection.execute(text("UPDATE analytics.visits SET charges = charges * 2"))
        connection.execute(text("UPDATE bi.datasets SET data_version = data_version + 1 WHERE name = 'visits'"))
    second = query(api)
    assert second.headers["X-Cache"] == "MISS" and second.json()["rows"][0] == ["2024-01-01", 900]


def test_grouping_or_filtering_by_phi_needs_phi_read(visits: Api) -> None:
    api = visits
    flagged = api.client.patch(
        "/api/v1/datasets/visits/columns",
        headers=api.headers("admin"),
        json={"columns": [{"name": "patient", "phi": True}]},
    )
    assert flagged.status_code == 200, flagged.text
    defined = api.client.post(
        "/api/v1/metrics",
        headers=api.headers("analyst"),
        json=metric("visit_charges", dimensions=["region", "patient"]),
    )
    assert defined.status_code == 201, defined.text
    for fields in (
        {"group_by": ["patient"]},
        {"filters": [{"dimension": "patient", "op": "eq", "value": "a"}]},
    ):
        refused = query(api, role="viewer", metric="visit_charges", **fields)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"].startswith("grouping or filtering by the PHI column patient needs")
        allowed = query(api, role="admin", metric="visit_charges", **fields)
        assert allowed.status_code == 200, allowed.text
    # Replies holding PHI values (grouped by a PHI column) are never kept in a cache.
    again = query(api, role="admin", metric="visit_charges", group_by=["patient"])
    assert again.status_code == 200 and again.headers["X-Cache"] == "MISS"
    # Totals over a PHI-bearing dataset stay open to everyone who may query.
    assert query(api, role="viewer", metric="visit_charges", group_by=["region"]).status_code == 200


def test_hipaa_mode_hides_small_cells_from_callers_without_phi_read(
    visits: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = visits
    connections = api.app.state.connections
    monkeypatch.setattr(connections, "settings", connections.settings.model_copy(update={"hipaa_mode": True}))
    hidden = query(api, role="viewer", group_by=["region"])
    assert hidden.status_code == 200, hidden.text
    body = hidden.json()
    assert body["suppressed"] is True and body["suppressed_cells"] == [[0, 2], [1, 2], [2, 2]]
    assert [row[2] for row in body["rows"]] == [None, None, None]
    # An admin may read the rows themselves: nothing to hide, and not the viewer's cache entry.
    shown = query(api, role="admin", group_by=["region"]).json()
    assert [row[2] for row in shown["rows"]] == [400, 50, 25] and "suppressed" not in shown
    assert query(api, role="viewer", group_by=["region"]).json()["rows"] == body["rows"]


def test_hipaa_mode_reads_of_phi_datasets_need_a_purpose_and_are_audited(
    visits: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = visits
    connections = api.app.state.connections
    monkeypatch.setattr(connections, "settings", connections.settings.model_copy(update={"hipaa_mode": True}))
    # Without PHI columns, nothing is asked and nothing recorded.
    assert query(api).status_code == 200
    flagged = api.client.patch(
        "/api/v1/datasets/visits/columns",
        headers=api.headers("admin"),
        json={"columns": [{"name": "patient", "phi": True}]},
    )
    assert flagged.status_code == 200
    reads = [("POST", "/api/v1/query"), *(("GET", f"/api/v1/datasets/visits/{what}") for what in ("rows", "export"))]
    for method, path in reads:
        body = {"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01"}
        refused = api.client.request(
            method, path, headers=api.headers("viewer"), json=body if method == "POST" else None
        )
        assert refused.status_code == 403 and "X-Purpose" in refused.json()["detail"], refused.text
        allowed = api.client.request(
            method,
            path,
            headers={**api.headers("viewer"), "X-Purpose": "OPERATIONS"},
            json=body if method == "POST" else None,
        )
        assert allowed.status_code == 200, allowed.text
    # A second, cached query is a read too.
    again = api.client.post(
        "/api/v1/query",
        headers={**api.headers("viewer"), "X-Purpose": "TREAT"},
        json={"metric": "charges", "grain": "month", "start": "2024-01-01", "end": "2025-01-01"},
    )
    assert again.headers["X-Cache"] == "HIT"
    with api.engine.connect() as connection:
        records = connection.execute(
            text(
                "SELECT action, dataset, phi, purpose, columns FROM bi.audit_log "
                "WHERE username = :user AND phi ORDER BY seq"
            ),
            {"user": api.accounts["viewer"].username},
        ).all()
    assert [(row.action, row.dataset, row.purpose) for row in records] == [
        ("query", "visits", "OPERATIONS"),
        ("dataset.rows", "visits", "OPERATIONS"),
        ("export", "visits", "OPERATIONS"),
        ("query", "visits", "TREAT"),
    ]
    # The viewer sees PHI neither in rows (masked) nor in the query: no PHI column was touched.
    assert all(list(row.columns) == [] for row in records)
