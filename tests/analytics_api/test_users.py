"""User administration: who may do it, what it checks, and that no admin can lock the platform out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.analytics_api.conftest import PASSWORD, Api, bearer

NEW_PASSWORD = "another long password"


def admin_call(api: Api, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.request(method, f"/api/v1{path}", json=body, headers=api.headers("admin"))


def create(api: Api, username: str, roles: list[str], password: str = PASSWORD) -> Any:
    return admin_call(api, "POST", "/users", {"username": username, "password": password, "roles": roles})


def every_admin_route(api: Api) -> list[tuple[str, str, dict[str, Any] | None]]:
    viewer = api.accounts["viewer"].id
    return [
        ("POST", "/users", {"username": "made-by-a-test", "password": PASSWORD, "roles": ["viewer"]}),
        ("GET", "/users", None),
        ("GET", f"/users/{viewer}", None),
        ("PATCH", f"/users/{viewer}", {"password": NEW_PASSWORD}),
        ("PUT", f"/users/{viewer}/roles", {"roles": ["viewer"]}),
        ("GET", "/roles", None),
    ]


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_user_managers_reach_the_admin_routes(api: Api, role: str) -> None:
    for method, path, body in every_admin_route(api):
        response = api.client.request(method, f"/api/v1{path}", json=body, headers=api.headers(role))
        assert response.status_code == 403, (method, path)
        assert response.json()["detail"] == "this needs the permission users:manage, which your roles lack"
    for method, path, body in every_admin_route(api):
        response = admin_call(api, method, path, body)
        assert response.status_code in {200, 201}, (method, path, response.text)


def test_create_user_and_read_it_back(api: Api) -> None:
    created = create(api, "dana@example.org", ["viewer", "analyst", "viewer"])
    assert created.status_code == 201, created.text
    user = created.json()
    assert set(user) == {"id", "username", "is_active", "roles", "created_at", "updated_at", "last_login_at"}
    assert user["username"] == "dana@example.org"
    assert user["roles"] == ["analyst", "viewer"]
    assert user["is_active"] is True
    assert user["last_login_at"] is None
    assert PASSWORD not in created.text
    assert "argon2" not in created.text

    assert admin_call(api, "GET", f"/users/{user['id']}").json() == user
    token = api.login("dana@example.org").json()["access_token"]
    assert api.client.get("/api/v1/me", headers=bearer(token)).json()["roles"] == ["analyst", "viewer"]
    with api.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT password_hash FROM bi.users WHERE username = 'dana@example.org'")
        ).scalar_one()
    assert stored.startswith("$argon2id$")


def test_list_users_in_pages(api: Api) -> None:
    for name in ("p-one", "p-two", "p-three"):
        assert create(api, name, []).status_code == 201
    everyone = admin_call(api, "GET", "/users").json()
    assert everyone["total"] == 6
    names = [user["username"] for user in everyone["items"]]
    assert names == sorted(names)
    assert all("password" not in str(user) for user in everyone["items"])

    page = admin_call(api, "GET", "/users?limit=2&offset=2").json()
    assert page == {"items": everyone["items"][2:4], "total": 6}
    assert admin_call(api, "GET", "/users?limit=2&offset=10").json() == {"items": [], "total": 6}
    for query in ("limit=0", "limit=501", "offset=-1", "limit=many"):
        response = admin_call(api, "GET", f"/users?{query}")
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    "username", ["Alice", "", "-dash-first", "with space", "x" * 129, "bob\n", "ünï", "a/b", "_underscore"]
)
def test_bad_usernames_are_422(api: Api, username: str) -> None:
    response = create(api, username, ["viewer"])
    assert response.status_code == 422, response.text
    assert "username" in response.json()["detail"]


def test_longest_and_shortest_usernames_are_fine(api: Api) -> None:
    assert create(api, "a" * 128, []).status_code == 201
    assert create(api, "7", []).status_code == 201


def test_short_password_is_422_and_not_echoed(api: Api) -> None:
    response = create(api, "erin", ["viewer"], password="short-pw-11")
    assert response.status_code == 422
    assert response.json()["detail"] == "password must be 12 to 1024 characters long"
    assert "short-pw-11" not in response.text
    assert create(api, "erin", ["viewer"], password="exactly-12ch").status_code == 201


def test_unknown_role_is_422_naming_it(api: Api) -> None:
    response = create(api, "frank", ["viewer", "superuser"])
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'superuser'" in detail
    assert "admin, analyst, viewer" in detail
    # Nothing was written: the user does not exist.
    assert admin_call(api, "GET", "/users").json()["total"] == 3


def test_missing_fields_are_422_with_their_location(api: Api) -> None:
    response = admin_call(api, "POST", "/users", {"username": "gina"})
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["errors"]}
    assert locations == {("body", "password"), ("body", "roles")}


def test_duplicate_username_is_409(api: Api) -> None:
    taken = api.accounts["viewer"].username
    response = create(api, taken, ["viewer"])
    assert response.status_code == 409
    assert taken in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("GET", "", None), ("PATCH", "", {"is_active": False}), ("PUT", "/roles", {"roles": ["viewer"]})],
)
def test_unknown_id_is_404_and_a_malformed_one_422(
    api: Api, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    missing = uuid.uuid4()
    response = admin_call(api, method, f"/users/{missing}{suffix}", body)
    assert response.status_code == 404
    assert str(missing) in response.json()["detail"]
    assert admin_call(api, method, f"/users/not-a-uuid{suffix}", body).status_code == 422


def test_admin_sets_a_password(api: Api) -> None:
    viewer = api.accounts["viewer"]
    response = admin_call(api, "PATCH", f"/users/{viewer.id}", {"password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is True
    assert NEW_PASSWORD not in response.text
    assert api.login(viewer.username, NEW_PASSWORD).status_code == 200
    assert api.login(viewer.username, PASSWORD).status_code == 401

    short = admin_call(api, "PATCH", f"/users/{viewer.id}", {"password": "too short"})
    assert short.status_code == 422
    assert "too short" not in short.text


def test_patch_without_fields_changes_nothing(api: Api) -> None:
    viewer = api.accounts["viewer"]
    before = admin_call(api, "GET", f"/users/{viewer.id}").json()
    after = admin_call(api, "PATCH", f"/users/{viewer.id}", {})
    assert after.status_code == 200
    assert {**after.json(), "updated_at": None} == {**before, "updated_at": None}
    assert admin_call(api, "PATCH", f"/users/{viewer.id}", {"is_active": "nope"}).status_code == 422


def test_roles_are_replaced_and_apply_at_once(api: Api) -> None:
    viewer = api.accounts["viewer"]
    headers = bearer(api.login(viewer.username).json()["access_token"])
    assert api.client.get("/api/v1/users", headers=headers).status_code == 403

    response = admin_call(api, "PUT", f"/users/{viewer.id}/roles", {"roles": ["admin", "viewer"]})
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["admin", "viewer"]
    # A role change ends the user's sessions: the old token is refused, a new login has the new roles.
    ended = api.client.get("/api/v1/users", headers=headers)
    assert ended.status_code == 401
    assert "log in again" in ended.json()["detail"]
    headers = bearer(api.login(viewer.username).json()["access_token"])
    assert api.client.get("/api/v1/users", headers=headers).status_code == 200

    assert admin_call(api, "PUT", f"/users/{viewer.id}/roles", {"roles": []}).json()["roles"] == []
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401
    me = api.client.get("/api/v1/me", headers=bearer(api.login(viewer.username).json()["access_token"])).json()
    assert (me["roles"], me["permissions"]) == ([], [])


def test_unknown_role_leaves_the_roles_as_they_were(api: Api) -> None:
    viewer = api.accounts["viewer"]
    response = admin_call(api, "PUT", f"/users/{viewer.id}/roles", {"roles": ["analyst", "root"]})
    assert response.status_code == 422
    assert "'root'" in response.json()["detail"]
    assert admin_call(api, "GET", f"/users/{viewer.id}").json()["roles"] == ["viewer"]


def test_admin_cannot_disable_themself(api: Api) -> None:
    admin = api.accounts["admin"]
    response = admin_call(api, "PATCH", f"/users/{admin.id}", {"is_active": False})
    assert response.status_code == 409
    assert "your own account" in response.json()["detail"]
    assert admin_call(api, "GET", f"/users/{admin.id}").json()["is_active"] is True
    # Their own password they may change.
    assert admin_call(api, "PATCH", f"/users/{admin.id}", {"password": NEW_PASSWORD}).status_code == 200


def test_admin_cannot_drop_their_own_admin_role(api: Api) -> None:
    admin = api.accounts["admin"]
    response = admin_call(api, "PUT", f"/users/{admin.id}/roles", {"roles": ["analyst"]})
    assert response.status_code == 409
    assert "admin role from yourself" in response.json()["detail"]
    assert admin_call(api, "GET", f"/users/{admin.id}").json()["roles"] == ["admin"]

    kept = admin_call(api, "PUT", f"/users/{admin.id}/roles", {"roles": ["admin", "analyst"]})
    assert kept.status_code == 200
    assert kept.json()["roles"] == ["admin", "analyst"]


def test_one_admin_may_disable_and_demote_another(api: Api) -> None:
    other = create(api, "second-admin", ["admin"]).json()
    disabled = admin_call(api, "PATCH", f"/users/{other['id']}", {"is_active": False})
    assert disabled.status_code == 200
    assert api.login("second-admin").status_code == 401
    demoted = admin_call(api, "PUT", f"/users/{other['id']}/roles", {"roles": ["viewer"]})
    assert demoted.json()["roles"] == ["viewer"]


def test_roles_list_their_permissions_from_the_database(api: Api) -> None:
    response = admin_call(api, "GET", "/roles")
    assert response.status_code == 200
    body = response.json()
    with api.engine.connect() as connection:
        rows = connection.execute(text("SELECT role, permission FROM bi.role_permissions")).all()
    granted: dict[str, list[str]] = {}
    for role, permission in rows:
        granted.setdefault(role, []).append(permission)
    assert body["total"] == 3
    assert [role["name"] for role in body["items"]] == ["admin", "analyst", "viewer"]
    for role in body["items"]:
        assert role["permissions"] == sorted(granted[role["name"]])
        assert role["built_in"] is True
        assert role["description"]


def test_a_user_manager_who_is_no_admin_cannot_take_away_the_last_admin(api: Api) -> None:
    made = admin_call(
        api, "POST", "/roles", {"name": "user_manager", "description": "users only", "permissions": ["users:manage"]}
    )
    assert made.status_code == 201, made.text
    manager = bearer(api.token(api.add_account("manager", ["user_manager"])))
    only_admin = api.accounts["admin"].id
    attempts = [
        api.client.patch(f"/api/v1/users/{only_admin}", json={"is_active": False}, headers=manager),
        api.client.put(f"/api/v1/users/{only_admin}/roles", json={"roles": ["viewer"]}, headers=manager),
    ]
    for response in attempts:
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "is the last active admin" in response.json()["detail"]
    assert admin_call(api, "GET", f"/users/{only_admin}").json()["roles"] == ["admin"]
    # The admin role's permissions are fixed, so users:manage cannot be taken from it either.
    edited = admin_call(api, "PATCH", "/roles/admin", {"permissions": ["datasets:read"]})
    assert edited.status_code == 409 and "built in" in edited.json()["detail"]

    api.add_account("second-admin", ["admin"])
    demoted = api.client.put(f"/api/v1/users/{only_admin}/roles", json={"roles": ["viewer"]}, headers=manager)
    assert demoted.status_code == 200, demoted.text
