"""Row policies over HTTP: admins set them, and a limited caller's queries, previews, KPIs and
profile keep to them at once, with no cache entry shared across policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bi_agent.security.tokens import issue_access_token
from tests.analytics_api.conftest import Api, bearer, upload, wait_for_job

VISITS = (
    b"visit_date,region,department,charges\n"
    b"2024-01-01,north,er,100\n"
    b"2024-01-01,south,er,50\n"
    b"2024-01-02,north,icu,300\n"
    b"2024-02-10,south,er,25\n"
)


def limited_caller(api: Api) -> dict[str, str]:
    """A user whose only role, north_analyst, may read and query."""
    with api.engine.begin() as connection:
        connection.execute(text("INSERT INTO bi.roles (name) VALUES ('north_analyst')"))
        for permission in ("datasets:read", "metrics:read", "queries:run"):
            connection.execute(
                text("INSERT INTO bi.role_permissions VALUES ('north_analyst', :permission)"),
                {"permission": permission},
            )
    account = api.add_account("north", ["north_analyst"])
    return bearer(issue_access_token(api.settings, account.id, account.username).token)


def set_policy(api: Api, region: str) -> Any:
    return api.client.put(
        "/api/v1/row-policies/north_analyst/visits",
        headers=api.headers("admin"),
        json={"filters": [{"dimension": "region", "op": "eq", "value": region}], "description": "one region"},
    )


def total_charges(api: Api, headers: dict[str, str]) -> Any:
    body = {"metric": "charges", "grain": "year", "start": "2024-01-01", "end": "2025-01-01"}
    reply = api.client.post("/api/v1/query", headers=headers, json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["rows"][0][1]


def test_a_limited_caller_sees_only_their_rows(api: Api, worker: None) -> None:
    assert wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])["state"] == "SUCCESS"
    metric = {
        "name": "charges",
        "dataset": "visits",
        "aggregation": "sum",
        "column": "charges",
        "time_column": "visit_date",
        "dimensions": ["region", "department"],
    }
    assert api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=metric).status_code == 201
    north = limited_caller(api)
    assert total_charges(api, north) == 475  # no policy yet: every row

    made = set_policy(api, "north")
    assert made.status_code == 200, made.text
    assert made.json()["filters"] == [{"dimension": "region", "op": "eq", "value": "north"}]
    assert total_charges(api, north) == 400
    assert total_charges(api, api.headers("analyst")) == 475

    rows = api.client.get("/api/v1/datasets/visits/rows", headers=north).json()
    assert rows["total"] == 2 and {row[1] for row in rows["rows"]} == {"north"}
    refused = api.client.get("/api/v1/datasets/visits/profile", headers=north)
    assert refused.status_code == 403 and "row policy" in refused.json()["detail"]
    # The dataset's own counts would tell how many rows the policy hides.
    dataset = api.client.get("/api/v1/datasets/visits", headers=north).json()
    assert (dataset["row_count"], dataset["row_policy"], dataset["imports"]) == (2, True, [])
    (listed_visits,) = [item for item in api.client.get("/api/v1/datasets", headers=north).json()["items"]]
    assert (listed_visits["row_count"], listed_visits["row_policy"]) == (2, True)
    whole = api.client.get("/api/v1/datasets/visits", headers=api.headers("analyst")).json()
    assert (whole["row_count"], whole["row_policy"], len(whole["imports"])) == (4, False, 1)

    # A changed policy applies to the very next request, cached answer or not.
    assert set_policy(api, "south").status_code == 200
    assert total_charges(api, north) == 75
    listed = api.client.get("/api/v1/row-policies?dataset=visits", headers=api.headers("admin")).json()
    assert [(item["role"], item["filters"][0]["value"]) for item in listed["items"]] == [("north_analyst", "south")]
    lifted = api.client.delete("/api/v1/row-policies/north_analyst/visits", headers=api.headers("admin"))
    assert lifted.status_code == 204
    assert total_charges(api, north) == 475


def test_policies_are_admin_only_and_checked(api: Api, worker: None) -> None:
    assert wait_for_job(api, upload(api, "visits", "visits.csv", VISITS).json()["job_id"])["state"] == "SUCCESS"
    limited_caller(api)
    assert set_policy(api, "north").status_code == 200
    body = {"filters": [{"dimension": "region", "op": "eq", "value": "north"}]}
    for role in ("analyst", "viewer"):
        denied = api.client.put("/api/v1/row-policies/north_analyst/visits", headers=api.headers(role), json=body)
        assert denied.status_code == 403
    bad = {"filters": [{"dimension": "planet", "op": "eq", "value": "mars"}]}
    unknown_column = api.client.put("/api/v1/row-policies/north_analyst/visits", headers=api.headers("admin"), json=bad)
    assert unknown_column.status_code == 422 and "has no column planet" in unknown_column.json()["detail"]
    unknown_role = api.client.put("/api/v1/row-policies/nobody/visits", headers=api.headers("admin"), json=body)
    assert unknown_role.status_code == 404
    unknown_dataset = api.client.put(
        "/api/v1/row-policies/north_analyst/nothing", headers=api.headers("admin"), json=body
    )
    assert unknown_dataset.status_code == 404
    empty = api.client.put(
        "/api/v1/row-policies/north_analyst/visits", headers=api.headers("admin"), json={"filters": []}
    )
    assert empty.status_code == 422
