"""The audit log over HTTP: what gets recorded (logins, denials, user and role changes, reads of
the log) and `GET /api/v1/audit` for every role, with its filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bi_agent.security import audit
from bi_agent.security.audit import Action, AuditEvent
from tests.analytics_api.conftest import PASSWORD, ROLES, Api, bearer

NEW_PASSWORD = "another long password"


def records(api: Api, **filters: Any) -> list[dict[str, Any]]:
    """Every record matching the filters, oldest first, read straight from the table."""
    with api.engine.connect() as connection:
        page = audit.list_records(connection, audit.AuditFilter(**filters), limit=10_000, offset=0)
    return [entry.__dict__ for entry in reversed(page.items)]


def raw_log(api: Api) -> str:
    with api.engine.connect() as connection:
        return "\n".join(connection.execute(text("SELECT row_to_json(a)::text FROM bi.audit_log a")).scalars())


def chain_is_intact(api: Api) -> bool:
    with api.engine.connect() as connection:
        return audit.verify(connection) is None


def get_audit(api: Api, role: str = "admin", **params: Any) -> Any:
    return api.client.get("/api/v1/audit", params=params, headers=api.headers(role))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_the_audit_route(api: Api, role: str) -> None:
    response = get_audit(api, role, limit=500)
    if role == "admin":
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"items", "total"}
        assert records(api, action=Action.AUDIT_READ)[-1]["username"] == api.accounts["admin"].username
    else:
        assert response.status_code == 403
        assert response.json()["detail"] == "this needs the permission audit:read, which your roles lack"
        [denial] = records(api, action=Action.PERMISSION_DENIED)
        assert denial["outcome"] == "denied"
        assert (denial["user_id"], denial["username"]) == (api.accounts[role].id, api.accounts[role].username)
        assert denial["roles"] == (role,)
        assert denial["resource"] == "GET /api/v1/audit"
        assert denial["details"] == {"permission": "audit:read"}
    assert chain_is_intact(api)


def test_requests_without_a_valid_token_are_refused_and_not_recorded(api: Api) -> None:
    before = len(records(api))
    assert api.client.get("/api/v1/audit").status_code == 401
    assert api.client.get("/api/v1/audit", headers=bearer("not.a.token")).status_code == 401
    assert api.client.get("/api/v1/users", headers=bearer("not.a.token")).status_code == 401
    assert len(records(api)) == before


def test_a_denial_names_the_route_template_and_the_request(api: Api) -> None:
    viewer = api.accounts["viewer"]
    headers = {**api.headers("viewer"), "X-Request-ID": "trace-42", "X-Purpose": "OPERATIONS"}
    response = api.client.get(f"/api/v1/users/{viewer.id}", headers=headers)
    assert response.status_code == 403
    [denial] = records(api, action=Action.PERMISSION_DENIED)
    # The template, not the path: ids and names in paths stay out of the log.
    assert denial["resource"] == "GET /api/v1/users/{user_id}"
    assert (denial["request_id"], denial["purpose"]) == ("trace-42", "OPERATIONS")
    assert denial["client_address"].startswith("10.")  # the test client's address


def test_a_malformed_request_id_is_replaced(api: Api) -> None:
    headers = {**api.headers("viewer"), "X-Request-ID": "not ok\nat all"}
    api.client.get("/api/v1/users", headers=headers)
    [denial] = records(api, action=Action.PERMISSION_DENIED)
    assert denial["request_id"] != "not ok\nat all"
    assert len(denial["request_id"]) == 32


def test_logins_succeeding_and_failing_are_recorded_without_passwords(api: Api) -> None:
    viewer, analyst = api.accounts["viewer"], api.accounts["analyst"]
    ok = api.client.post(
        "/api/v1/auth/login",
        json={"username": viewer.username.upper(), "password": PASSWORD},
        headers={"X-Request-ID": "login-1"},
    )
    assert ok.status_code == 200
    assert api.login(analyst.username, "a wrong password 1").status_code == 401
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    assert api.login(nobody, "a wrong password 2").status_code == 401
    api.client.patch(f"/api/v1/users/{viewer.id}", json={"is_active": False}, headers=api.headers("admin"))
    assert api.login(viewer.username).status_code == 401

    logins = records(api, action=Action.LOGIN)
    assert [(entry["username"], entry["outcome"], entry["details"].get("reason")) for entry in logins] == [
        (viewer.username, "success", None),
        (analyst.username, "failure", "wrong password"),
        (nobody, "failure", "unknown user"),
        (viewer.username, "failure", "account disabled"),
    ]
    assert [entry["user_id"] for entry in logins] == [viewer.id, analyst.id, None, viewer.id]
    assert logins[0]["roles"] == ("viewer",)
    assert logins[0]["request_id"] == "login-1"
    assert len({entry["client_address"] for entry in logins}) == 1
    assert logins[0]["client_address"].startswith("10.")
    log = raw_log(api)
    for secret in (PASSWORD, "a wrong password 1", "a wrong password 2", "argon2"):
        assert secret not in log
    assert chain_is_intact(api)


def test_throttled_logins_are_not_recorded(api: Api) -> None:
    viewer = api.accounts["viewer"]
    failures = api.settings.login_failures_before_delay
    for _ in range(failures):
        api.login(viewer.username, "a wrong password")
    assert api.login(viewer.username).status_code == 429
    assert len(records(api, action=Action.LOGIN)) == failures


def test_user_and_role_changes_are_recorded(api: Api) -> None:
    admin = api.accounts["admin"]
    headers = {**api.headers("admin"), "X-Purpose": "ticket 1234"}

    def call(method: str, path: str, body: dict[str, Any]) -> Any:
        response = api.client.request(method, f"/api/v1{path}", json=body, headers=headers)
        assert response.status_code in {200, 201}, response.text
        return response.json()

    created = call("POST", "/users", {"username": "dana", "password": PASSWORD, "roles": ["viewer"]})
    call("PATCH", f"/users/{created['id']}", {"password": NEW_PASSWORD})
    call("PATCH", f"/users/{created['id']}", {"is_active": False})
    call("PUT", f"/users/{created['id']}/roles", {"roles": ["analyst", "viewer"]})
    # A refused change is rolled back with its record.
    duplicate = {"username": "dana", "password": PASSWORD, "roles": []}
    assert api.client.post("/api/v1/users", json=duplicate, headers=headers).status_code == 409

    changes = [entry for entry in records(api, user=admin.username) if entry["action"].startswith("user.")]
    assert [(entry["action"], entry["details"]) for entry in changes] == [
        (Action.USER_CREATE, {"target_username": "dana", "roles": ["viewer"]}),
        (Action.USER_UPDATE, {"target_username": "dana", "is_active": None, "password_changed": True}),
        (Action.USER_UPDATE, {"target_username": "dana", "is_active": False, "password_changed": False}),
        (
            Action.USER_ROLES,
            {"target_username": "dana", "roles": ["analyst", "viewer"], "previous_roles": ["viewer"]},
        ),
    ]
    assert {entry["resource"] for entry in changes} == {f"user:{created['id']}"}
    assert {entry["purpose"] for entry in changes} == {"ticket 1234"}
    assert {entry["roles"] for entry in changes} == {("admin",)}
    assert NEW_PASSWORD not in raw_log(api) and PASSWORD not in raw_log(api)
    assert chain_is_intact(api)


def test_the_route_filters_and_pages(api: Api) -> None:
    viewer = api.accounts["viewer"]
    api.login(viewer.username)
    api.login(viewer.username, "a wrong password")
    with api.engine.begin() as connection:
        audit.record(
            connection,
            AuditEvent(action=Action.DATASET_ROWS, username="nurse", dataset="visits", columns=("mrn",), phi=True),
        )
    everything = get_audit(api).json()
    assert everything["total"] == 3
    assert [item["seq"] for item in everything["items"]] == [3, 2, 1]
    item = everything["items"][0]
    assert set(item) == {
        "id", "seq", "occurred_at", "user_id", "username", "roles", "action", "resource", "dataset", "columns",
        "phi", "purpose", "request_id", "client_address", "outcome", "details", "prev_hash", "hash",
    }  # fmt: skip
    assert (item["dataset"], item["columns"], item["phi"]) == ("visits", ["mrn"], True)
    assert item["prev_hash"] == everything["items"][1]["hash"]

    def seqs(**params: Any) -> list[int]:
        response = get_audit(api, **params)
        assert response.status_code == 200, response.text
        return [entry["seq"] for entry in response.json()["items"]]

    # Each read above is recorded too (audit.read), after the read.
    assert seqs(user=viewer.username, action=Action.LOGIN) == [2, 1]
    assert seqs(user=str(viewer.id), outcome="failure") == [2]
    assert seqs(dataset="visits") == [3]
    assert seqs(phi="true") == [3]
    assert seqs(action=Action.AUDIT_READ, limit=2, offset=1) == [7, 6]
    now = datetime.now(UTC)
    assert seqs(since=(now + timedelta(minutes=1)).isoformat()) == []
    assert seqs(until=(now - timedelta(hours=1)).isoformat()) == []
    assert len(seqs(since=(now - timedelta(hours=1)).isoformat(), action=Action.LOGIN)) == 2
    for params in ({"outcome": "maybe"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"since": "yesterday"}):
        response = get_audit(api, **params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["loc"][0] == "query"
    assert chain_is_intact(api)
