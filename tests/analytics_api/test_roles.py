"""Roles over HTTP: admins add roles of their own, change and remove them; built-in roles stay fixed."""

from __future__ import annotations

from bi_agent.security.tokens import issue_access_token
from tests.analytics_api.conftest import Api, bearer


def test_a_role_of_your_own(api: Api) -> None:
    admin = api.headers("admin")
    made = api.client.post(
        "/api/v1/roles",
        headers=admin,
        json={"name": "north_analyst", "description": "the north only", "permissions": ["datasets:read"]},
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "name": "north_analyst",
        "description": "the north only",
        "built_in": False,
        "permissions": ["datasets:read"],
    }
    account = api.add_account("north", ["north_analyst"])
    north = bearer(issue_access_token(api.settings, account.id, account.username).token)
    assert api.client.get("/api/v1/datasets", headers=north).status_code == 200
    assert api.client.get("/api/v1/metrics", headers=north).status_code == 403

    # A change applies to the holder's very next request.
    changed = api.client.patch(
        "/api/v1/roles/north_analyst", headers=admin, json={"permissions": ["datasets:read", "metrics:read"]}
    )
    assert changed.status_code == 200 and changed.json()["permissions"] == ["datasets:read", "metrics:read"]
    assert api.client.get("/api/v1/metrics", headers=north).status_code == 200

    held = api.client.delete("/api/v1/roles/north_analyst", headers=admin)
    assert held.status_code == 409 and "held by 1 user" in held.json()["detail"]
    assert api.client.put(f"/api/v1/users/{account.id}/roles", headers=admin, json={"roles": []}).status_code == 200
    assert api.client.delete("/api/v1/roles/north_analyst", headers=admin).status_code == 204
    names = [role["name"] for role in api.client.get("/api/v1/roles", headers=admin).json()["items"]]
    assert "north_analyst" not in names


def test_roles_are_checked(api: Api) -> None:
    admin = api.headers("admin")
    cases = [
        ({"name": "North-Analyst"}, 422, "is not allowed"),
        ({"name": "auditor", "permissions": ["datasets:fly"]}, 422, "unknown permission 'datasets:fly'"),
        ({"name": "viewer"}, 409, "exists already"),
    ]
    for body, status, message in cases:
        reply = api.client.post("/api/v1/roles", headers=admin, json=body)
        assert reply.status_code == status and message in reply.json()["detail"], reply.text
    fixed = api.client.patch("/api/v1/roles/viewer", headers=admin, json={"permissions": ["users:manage"]})
    assert fixed.status_code == 409 and "built in" in fixed.json()["detail"]
    assert api.client.delete("/api/v1/roles/nobody", headers=admin).status_code == 404
    for role in ("analyst", "viewer"):
        assert api.client.post("/api/v1/roles", headers=api.headers(role), json={"name": "mine"}).status_code == 403
