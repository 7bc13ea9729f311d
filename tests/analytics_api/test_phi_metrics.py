"""PHI metrics: a metric whose definition shows values of a PHI column (min or max of one, a
filter on one, a PHI time column; a sum or average of one too) needs `phi:read` to be defined,
changed, queried or read as a KPI, judged from the columns' flags at the time, and its answers
are never cached in Redis; min and max of text are no metrics at all; counts and distinct
counts of a PHI column stay open."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from bi_agent.catalog import kpis
from tests.analytics_api.conftest import Api
from tests.analytics_api.test_phi_leaks import everything_in
from tests.catalog.conftest import Importer, load, s3  # noqa: F401 (fixtures used by the tests here)

# Record numbers of more than one length are numbers (of one fixed length, codes: text).
VISITS = (
    b"visit_date,date_of_birth,region,patient_name,mrn,charges\n"
    b"2024-01-03,1950-04-02,north,Ann Smith,8552724,100\n"
    b"2024-01-09,1961-09-30,south,Bo Jones,855272,50\n"
    b"2024-02-11,1950-04-02,north,Ann Smith,8552724,300\n"
    b"2024-02-20,1987-01-15,north,Cy Brown,85527260,25\n"
)
PHI = ["date_of_birth", "patient_name", "mrn"]


def metric(name: str, aggregation: str = "count", column: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "dataset": "visits",
        "aggregation": aggregation,
        "column": column,
        "time_column": "visit_date",
        "dimensions": ["region"],
        **fields,
    }


def define(api: Api, role: str, body: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/metrics", headers=api.headers(role), json=body)


def query(api: Api, role: str, name: str) -> Any:
    body = {"metric": name, "grain": "month", "start": "2024-01-01", "end": "2025-01-01"}
    return api.client.post("/api/v1/query", headers=api.headers(role), json=body)


def flag(api: Api, *columns: str) -> None:
    changes = [{"name": name, "phi": True} for name in columns]
    response = api.client.patch(
        "/api/v1/datasets/visits/columns", headers=api.headers("admin"), json={"columns": changes}
    )
    assert response.status_code == 200, response.text


def refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail


def test_phi_metrics_need_phi_read_to_be_defined_changed_and_queried(api: Api, load: Importer) -> None:  # noqa: F811
    load("visits", "visits.csv", VISITS)
    flag(api, *PHI)

    # max(mrn) handed out record numbers; a filter on mrn told whether a patient exists; a
    # time column of birth dates gave counts per birth date.
    refused(define(api, "analyst", metric("top_mrn", "max", "mrn")), 403, "mrn", "phi:read")
    filtered = metric("one_patient", filters=[{"dimension": "mrn", "op": "eq", "value": 8552724}])
    refused(define(api, "analyst", filtered), 403, "PHI column mrn", "phi:read")
    by_birth = metric("births", time_column="date_of_birth")
    refused(define(api, "analyst", by_birth), 403, "PHI column date_of_birth", "phi:read")
    # min of a name is a name: refused for everyone, as min and max of any text are.
    for role in ("analyst", "admin"):
        refused(define(api, role, metric("first_name", "min", "patient_name")), 422, "patient_name", "not an aggregate")

    # Counts and distinct counts of a PHI column are aggregates.
    for body in (metric("patients", "count_distinct", "mrn"), metric("named", "count", "patient_name")):
        assert define(api, "analyst", body).status_code == 201
        answered = query(api, "viewer", body["name"])
        assert answered.status_code == 200, answered.text
    assert query(api, "viewer", "patients").json()["rows"] == [["2024-01-01", 2], ["2024-02-01", 2]]
    refused(
        api.client.patch("/api/v1/metrics/named", headers=api.headers("analyst"), json={"aggregation": "max"}),
        422,
        "patient_name",
        "not an aggregate",
    )

    # An admin defines and queries them; others are refused at query time, naming the column.
    for body in (metric("top_mrn", "max", "mrn"), filtered, by_birth):
        assert define(api, "admin", body).status_code == 201, body
    assert query(api, "admin", "top_mrn").json()["rows"] == [["2024-01-01", 8552724], ["2024-02-01", 85527260]]
    assert query(api, "admin", "one_patient").json()["rows"] == [["2024-01-01", 1], ["2024-02-01", 1]]
    assert query(api, "admin", "births").status_code == 200
    for name, column in (("top_mrn", "mrn"), ("one_patient", "mrn"), ("births", "date_of_birth")):
        refused(query(api, "viewer", name), 403, f"PHI column {column}", "phi:read")
        refused(query(api, "analyst", name), 403, f"PHI column {column}")
    refused(
        api.client.patch("/api/v1/metrics/one_patient", headers=api.headers("analyst"), json={"description": "x"}),
        403,
        "PHI column mrn",
    )
    by_birth_patch = {"time_column": "date_of_birth"}
    refused(
        api.client.patch("/api/v1/metrics/patients", headers=api.headers("analyst"), json=by_birth_patch),
        403,
        "PHI column date_of_birth",
    )

    # The definition is listed to all who may read metrics, marked, its PHI filter value hidden.
    for role, value in (("viewer", None), ("admin", 8552724)):
        listed = api.client.get("/api/v1/metrics?dataset=visits", headers=api.headers(role)).json()["items"]
        shown = {item["name"]: item for item in listed}
        assert shown["one_patient"]["filters"] == [{"dimension": "mrn", "op": "eq", "value": value}]
        assert (shown["one_patient"]["phi"], shown["one_patient"]["phi_columns"]) == (True, ["mrn"])
        assert (shown["patients"]["phi"], shown["births"]["phi_columns"]) == (False, ["date_of_birth"])
        single = api.client.get("/api/v1/metrics/one_patient", headers=api.headers(role)).json()
        assert single["filters"][0]["value"] == value
    assert "8552724" not in api.client.get("/api/v1/metrics", headers=api.headers("viewer")).text


def test_a_phi_flag_makes_existing_metrics_phi_metrics_at_once_kpis_too(api: Api, load: Importer) -> None:  # noqa: F811
    load("visits", "visits.csv", VISITS)
    north = metric("north_visits", filters=[{"dimension": "region", "op": "eq", "value": "north"}])
    for body in (metric("top_charge", "max", "charges"), north, metric("visits")):
        assert define(api, "analyst", body).status_code == 201
    assert kpis.calculate_all(api.engine, date(2024, 2, 28), "UTC") == kpis.KpiRun(15, [])

    def cards(role: str) -> list[str]:
        return [card["metric"] for card in api.client.get("/api/v1/kpis", headers=api.headers(role)).json()["items"]]

    assert cards("viewer") == ["north_visits", "top_charge", "visits"]
    for _ in range(2):
        answered = query(api, "viewer", "top_charge")
        assert answered.json()["rows"] == [["2024-01-01", 100], ["2024-02-01", 300]]
    assert answered.headers["X-Cache"] == "HIT"

    flag(api, "charges", "region")
    # Neither cache serves what was answered before the flag; the stored KPIs are not served.
    refused(query(api, "viewer", "top_charge"), 403, "PHI column charges")
    refused(query(api, "viewer", "north_visits"), 403, "PHI column region")
    assert query(api, "viewer", "visits").status_code == 200
    assert cards("viewer") == ["visits"]
    assert cards("admin") == ["north_visits", "top_charge", "visits"]
    assert query(api, "admin", "top_charge").status_code == 200
    listed = api.client.get("/api/v1/metrics/north_visits", headers=api.headers("viewer")).json()
    assert listed["filters"] == [{"dimension": "region", "op": "eq", "value": None}]


def test_a_phi_metrics_answers_never_reach_redis_and_sums_of_phi_are_phi_metrics(api: Api, load: Importer) -> None:  # noqa: F811
    # Canaries of this run only: the Redis is shared with other tests.
    draw = random.Random()
    # Of two lengths, so numbers (record numbers of one fixed length would be text).
    mrns = [draw.randrange(10**8, 10**9), draw.randrange(10**9, 10**10)]
    births = [date(1900, 1, 1) + timedelta(days=draw.randrange(365 * 40)) for _ in range(2)]
    incomes = [draw.randrange(10**6, 10**7) for _ in range(2)]
    lines = ["visit_date,date_of_birth,region,mrn,income"] + [
        f"2024-0{index + 1}-03,{births[index]},north,{mrns[index]},{incomes[index]}" for index in range(2)
    ]
    load("visits", "visits.csv", ("\n".join(lines) + "\n").encode())
    flag(api, "date_of_birth", "mrn", "income")

    # A sum or an average of a PHI column is one record's value once the rows are one record's.
    for aggregation in ("sum", "avg"):
        body = metric(f"{aggregation}_income", aggregation, "income")
        refused(define(api, "analyst", body), 403, "PHI column income", f"its {aggregation} can be one record")
        assert define(api, "admin", body).status_code == 201
        refused(query(api, "viewer", body["name"]), 403, "PHI column income", "phi:read")
    assert define(api, "admin", metric("top_mrn", "max", "mrn")).status_code == 201
    assert define(api, "admin", metric("births", time_column="date_of_birth")).status_code == 201

    # The admin reads them all twice: neither cache keeps any of them.
    by_birth = {"metric": "births", "grain": "day", "start": "1900-01-01", "end": "1950-01-01"}
    for _ in range(2):
        for name in ("sum_income", "avg_income", "top_mrn"):
            answered = query(api, "admin", name)
            assert answered.status_code == 200 and answered.headers["X-Cache"] == "MISS", answered.text
        assert query(api, "admin", "top_mrn").json()["rows"] == [[f"2024-0{i + 1}-01", mrns[i]] for i in range(2)]
        answered = api.client.post("/api/v1/query", headers=api.headers("admin"), json=by_birth)
        assert answered.headers["X-Cache"] == "MISS" and str(min(births)) in answered.text
    stored = everything_in(api.app.state.connections.redis)
    for canary in (*mrns, *incomes, *births):
        assert str(canary).encode() not in stored, f"{canary} is in Redis"
