"""Dashboards over HTTP: the round trip, who sees and who changes one, and what a tile must be."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from bi_agent.security.tokens import issue_access_token
from tests.analytics_api.conftest import Account, Api, bearer

# Two datasets, so a tile can (wrongly) mix metrics of both.
METRICS = {"visits": ["visit_count", "total_charges"], "claims": ["claim_count"]}


@pytest.fixture
def metrics(api: Api) -> None:
    with api.engine.begin() as connection:
        for dataset, names in METRICS.items():
            dataset_id = connection.execute(
                text("INSERT INTO bi.datasets (name) VALUES (:name) RETURNING id"), {"name": dataset}
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO bi.metrics (name, dataset_id, aggregation, time_column) "
                    "VALUES (:name, :dataset_id, 'count', 'visit_date')"
                ),
                [{"name": name, "dataset_id": dataset_id} for name in names],
            )


def tile(title: str, **query: Any) -> dict[str, Any]:
    return {
        "title": title,
        "chart": "line",
        "query": {"metric": "visit_count", "start": "2024-01-01", "end": "2024-02-01", **query},
        "layout": {"x": 0, "y": 0, "w": 6, "h": 4},
    }


def content(name: str = "Hospital visits", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Visits and charges per region",
        "tiles": [tile("Visits per day"), tile("Charges", metrics=["total_charges"], metric=None)],
        **fields,
    }


def as_user(api: Api, account: Account) -> dict[str, str]:
    return bearer(issue_access_token(api.settings, account.id, account.username).token)


def call(api: Api, who: str | dict[str, str], method: str, path: str = "", body: Any = None) -> Any:
    headers = api.headers(who) if isinstance(who, str) else who
    return api.client.request(method, f"/api/v1/dashboards{path}", json=body, headers=headers)


def create(api: Api, who: str | dict[str, str] = "analyst", **fields: Any) -> dict[str, Any]:
    response = call(api, who, "POST", body=content(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def names(api: Api, who: str | dict[str, str]) -> list[str]:
    listing = call(api, who, "GET").json()
    assert listing["total"] == len(listing["items"])
    return [item["name"] for item in listing["items"]]


def test_create_read_list_replace_delete(api: Api, metrics: None) -> None:
    body = content(shared_with_roles=["viewer", "viewer"])
    body["tiles"][0]["id"] = "visits-tile"
    response = call(api, "analyst", "POST", body=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {
        "id",
        "name",
        "description",
        "tiles",
        "owner",
        "shared_with_roles",
        "created_at",
        "updated_at",
    }
    assert created["name"] == "Hospital visits"
    assert created["description"] == "Visits and charges per region"
    assert created["owner"] == {"id": str(api.accounts["analyst"].id), "username": api.accounts["analyst"].username}
    assert created["shared_with_roles"] == ["viewer"]
    first, second = created["tiles"]
    assert first["id"] == "visits-tile"
    assert str(uuid.UUID(second["id"])) == second["id"]
    # The query comes back as sent, with its defaults filled in.
    assert first["query"]["metric"] == "visit_count" and "metrics" not in first["query"]
    assert second["query"]["metrics"] == ["total_charges"] and "metric" not in second["query"]
    assert (first["query"]["grain"], first["query"]["start"], first["query"]["end"]) == (
        "day",
        "2024-01-01",
        "2024-02-01",
    )
    assert first["layout"] == {"x": 0, "y": 0, "w": 6, "h": 4}

    dashboard_id = created["id"]
    assert call(api, "analyst", "GET", f"/{dashboard_id}").json() == created
    assert call(api, "analyst", "GET").json() == {"items": [created], "total": 1}

    replacement = {
        "name": "Visits only",
        "tiles": [{**first, "title": "Daily visits", "chart": "bar"}],
        "shared_with_roles": [],
    }
    replaced = call(api, "analyst", "PUT", f"/{dashboard_id}", replacement)
    assert replaced.status_code == 200, replaced.text
    after = replaced.json()
    assert after["name"] == "Visits only"
    assert after["description"] == ""
    assert [(t["id"], t["title"], t["chart"]) for t in after["tiles"]] == [("visits-tile", "Daily visits", "bar")]
    assert after["shared_with_roles"] == []
    assert (after["owner"], after["created_at"]) == (created["owner"], created["created_at"])
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(created["updated_at"])
    assert call(api, "analyst", "GET", f"/{dashboard_id}").json() == after

    deleted = call(api, "analyst", "DELETE", f"/{dashboard_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert call(api, "analyst", "GET", f"/{dashboard_id}").status_code == 404
    assert call(api, "analyst", "DELETE", f"/{dashboard_id}").status_code == 404
    assert call(api, "analyst", "GET").json() == {"items": [], "total": 0}
    with api.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM bi.dashboard_shares")).scalar_one() == 0


def test_list_in_pages(api: Api, metrics: None) -> None:
    for name in ("c", "a", "b"):
        create(api, name=name)
    assert names(api, "analyst") == ["a", "b", "c"]
    page = call(api, "analyst", "GET", "?limit=2&offset=1").json()
    assert ([item["name"] for item in page["items"]], page["total"]) == (["b", "c"], 3)
    assert call(api, "analyst", "GET", "?limit=0").status_code == 422


def test_who_sees_a_dashboard(api: Api, metrics: None) -> None:
    private = create(api, name="private")
    for_viewers = create(api, name="for viewers", shared_with_roles=["viewer"])
    for_analysts = create(api, name="for analysts", shared_with_roles=["analyst"])
    colleague = as_user(api, api.add_account("colleague", ["analyst"]))

    assert names(api, "analyst") == ["for analysts", "for viewers", "private"]
    assert names(api, "admin") == ["for analysts", "for viewers", "private"]
    assert names(api, "viewer") == ["for viewers"]
    assert names(api, colleague) == ["for analysts"]

    def status(who: str | dict[str, str], dashboard: dict[str, Any]) -> int:
        code: int = call(api, who, "GET", f"/{dashboard['id']}").status_code
        return code

    assert [status("admin", d) for d in (private, for_viewers, for_analysts)] == [200, 200, 200]
    assert [status("viewer", d) for d in (private, for_viewers, for_analysts)] == [404, 200, 404]
    assert [status(colleague, d) for d in (private, for_viewers, for_analysts)] == [404, 404, 200]
    # Hidden and missing look the same, so ids cannot be probed.
    hidden = call(api, colleague, "GET", f"/{private['id']}").json()
    missing = call(api, colleague, "GET", f"/{uuid.uuid4()}").json()
    assert hidden["detail"] == f"no dashboard with id {private['id']}"
    assert missing["title"] == hidden["title"] == "Not found"

    with api.engine.begin() as connection:
        connection.execute(text("DELETE FROM bi.users WHERE id = :id"), {"id": api.accounts["analyst"].id})
    orphan = call(api, "admin", "GET", f"/{private['id']}").json()
    assert orphan["owner"] is None
    assert call(api, "admin", "DELETE", f"/{private['id']}").status_code == 204


def test_viewer_reads_shared_dashboards_but_writes_none(api: Api, metrics: None) -> None:
    shared = create(api, shared_with_roles=["viewer"])
    read = call(api, "viewer", "GET", f"/{shared['id']}")
    assert read.status_code == 200 and read.json() == shared
    for method, path, body in (
        ("POST", "", content()),
        ("PUT", f"/{shared['id']}", content()),
        ("DELETE", f"/{shared['id']}", None),
    ):
        response = call(api, "viewer", method, path, body)
        assert response.status_code == 403, (method, response.text)
        assert response.json()["detail"] == "this needs the permission dashboards:write, which your roles lack"
    assert call(api, "analyst", "GET").json()["total"] == 1


def test_only_the_owner_or_an_admin_changes_a_dashboard(api: Api, metrics: None) -> None:
    shared = create(api, name="shared", shared_with_roles=["analyst"])
    private = create(api, name="private")
    colleague = as_user(api, api.add_account("colleague", ["analyst"]))

    for method, body in (("PUT", content(name="taken over")), ("DELETE", None)):
        refused = call(api, colleague, method, f"/{shared['id']}", body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == "only the owner or an admin can change this dashboard"
        assert call(api, colleague, method, f"/{private['id']}", body).status_code == 404
    assert call(api, "analyst", "GET", f"/{shared['id']}").json() == shared

    by_admin = call(api, "admin", "PUT", f"/{shared['id']}", content(name="tidied by an admin"))
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["name"] == "tidied by an admin"
    assert by_admin.json()["owner"] == shared["owner"]
    assert call(api, "admin", "DELETE", f"/{private['id']}").status_code == 204
    assert names(api, "analyst") == ["tidied by an admin"]


def bad_tile(change: dict[str, Any]) -> dict[str, Any]:
    return {**tile("Visits by region"), **change}


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        pytest.param(
            content(tiles=[tile("ok"), bad_tile({"chart": "pie"})]),
            ["body", "tiles", 1, "chart"],
            "'line', 'bar', 'area', 'table' or 'kpi'",
            id="unknown chart",
        ),
        pytest.param(
            content(tiles=[bad_tile({"layout": {"x": 8, "y": 0, "w": 6, "h": 4}})]),
            ["body", "tiles", 0, "layout"],
            "x + w is 14; the grid is 12 columns wide",
            id="wider than the grid",
        ),
        pytest.param(
            content(tiles=[bad_tile({"layout": {"x": -1, "y": 0, "w": 0, "h": 4}})]),
            ["body", "tiles", 0, "layout", "x"],
            "greater than or equal to 0",
            id="left of the grid",
        ),
        pytest.param(
            content(tiles=[tile("backwards", start="2024-02-01", end="2024-01-01")]),
            ["body", "tiles", 0, "query"],
            "end must be after start",
            id="end before start",
        ),
        pytest.param(
            content(tiles=[tile("from day one", grain="day", start="0001-01-01", compare="previous_period")]),
            ["body", "tiles", 0, "query", "compare"],
            "would begin before 0001-01-01, the calendar's first day",
            id="period before out of the calendar",
        ),
        pytest.param(
            content(tiles=[tile("two ways", metrics=["visit_count"])]),
            ["body", "tiles", 0, "query"],
            "give either metric or metrics",
            id="metric and metrics",
        ),
        pytest.param(
            content(tiles=[tile(f"tile {index}") for index in range(51)]),
            ["body", "tiles"],
            "at most 50 items",
            id="51 tiles",
        ),
        pytest.param(
            content(tiles=[{**tile("a"), "id": "same"}, {**tile("b"), "id": "same"}]),
            ["body"],
            "tiles[1] repeats the tile id 'same'",
            id="repeated tile id",
        ),
        pytest.param(content(name="   "), ["body", "name"], "at least 1 character", id="blank name"),
        pytest.param(content(owner="someone"), ["body", "owner"], "Extra inputs are not permitted", id="owner"),
    ],
)
def test_a_malformed_dashboard_is_refused(api: Api, metrics: None, body: Any, loc: list[Any], message: str) -> None:
    response = call(api, "analyst", "POST", body=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any(error["loc"] == loc and message in error["msg"] for error in problem["errors"]), problem
    assert call(api, "analyst", "GET").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(
            content(tiles=[tile("ok"), tile("Lost", metric="no_such_metric")]),
            "tiles[1] 'Lost': unknown metric 'no_such_metric'",
            id="unknown metric",
        ),
        pytest.param(
            content(tiles=[tile("Mixed", metric=None, metrics=["visit_count", "claim_count"])]),
            "tiles[0] 'Mixed': the metrics of one query must share one dataset; "
            "got 'visit_count' of dataset 'visits', 'claim_count' of dataset 'claims'",
            id="two datasets",
        ),
        pytest.param(
            content(shared_with_roles=["viewer", "auditors"]),
            "unknown role 'auditors' in shared_with_roles; the roles are admin, analyst, viewer",
            id="unknown role",
        ),
    ],
)
def test_a_dashboard_naming_what_does_not_exist_is_refused(
    api: Api, metrics: None, body: dict[str, Any], detail: str
) -> None:
    response = call(api, "analyst", "POST", body=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == detail
    assert call(api, "analyst", "GET").json()["total"] == 0

    existing = create(api)
    replaced = call(api, "analyst", "PUT", f"/{existing['id']}", body)
    assert replaced.status_code == 422, replaced.text
    assert replaced.json()["detail"] == detail
    assert call(api, "analyst", "GET", f"/{existing['id']}").json() == existing


def test_a_path_that_is_not_a_uuid_is_refused(api: Api) -> None:
    for method, body in (("GET", None), ("PUT", content()), ("DELETE", None)):
        response = call(api, "analyst", method, "/not-a-uuid", body)
        assert response.status_code == 422, (method, response.text)
        assert response.json()["errors"][0]["loc"] == ["path", "dashboard_id"]


def test_tile_filters_on_phi_are_hidden_from_callers_without_phi_read(api: Api, metrics: None) -> None:
    with api.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bi.dataset_columns (dataset_id, name, position, source_name, data_type, role, phi) "
                "SELECT d.id, c.name, c.position, c.name, 'text', 'dimension', c.phi FROM bi.datasets d, "
                "(VALUES ('patient_name', 0, true), ('region', 1, false)) AS c(name, position, phi) "
                "WHERE d.name = 'visits'"
            )
        )
    jane = {"dimension": "patient_name", "op": "eq", "value": "Jane Roe"}
    north = {"dimension": "region", "op": "eq", "value": "north"}
    # On claims, patient_name is no PHI column: its filter is shown to all.
    other = {"dimension": "patient_name", "op": "eq", "value": "Zed Public"}
    tiles = [tile("Jane", filters=[jane, north]), tile("Claims", metric="claim_count", filters=[other])]
    # An analyst may not save a PHI filter; an admin may, and shares the dashboard.
    refused = call(api, "analyst", "POST", body=content(tiles=tiles))
    assert refused.status_code == 403 and "tiles[0] 'Jane'" in refused.json()["detail"], refused.text
    assert "PHI column patient_name" in refused.json()["detail"]
    created = create(api, "admin", tiles=tiles, shared_with_roles=["viewer", "analyst"])
    path = f"/{created['id']}"

    for who, value in (("viewer", None), ("analyst", None), ("admin", "Jane Roe")):
        for shown in (call(api, who, "GET", path).json(), call(api, who, "GET").json()["items"][0]):
            filters = [item["query"]["filters"] for item in shown["tiles"]]
            assert filters == [[{**jane, "value": value}, north], [other]], who
        assert ("Jane Roe" in call(api, who, "GET").text) is (value is not None)

    # An analyst's own dashboard an admin added the tile to: sent back as shown, it is refused
    # naming the column, and the stored value stays; deleting it stays the owner's right.
    owned = create(api, "analyst")
    body = {**content(), "tiles": tiles}
    assert call(api, "admin", "PUT", f"/{owned['id']}", body).status_code == 200
    shown = call(api, "analyst", "GET", f"/{owned['id']}").json()
    sent_back = {key: shown[key] for key in ("name", "description", "tiles", "shared_with_roles")}
    for body in (sent_back, {**sent_back, "tiles": sent_back["tiles"][1:]}):
        refused = call(api, "analyst", "PUT", f"/{owned['id']}", body)
        assert refused.status_code == 403, refused.text
        assert "PHI column patient_name" in refused.json()["detail"] and "Jane" not in refused.json()["detail"]
    kept = call(api, "admin", "GET", f"/{owned['id']}").json()
    assert kept["tiles"][0]["query"]["filters"] == [jane, north]
    assert call(api, "analyst", "DELETE", f"/{owned['id']}").status_code == 204
