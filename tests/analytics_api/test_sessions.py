"""Sessions over HTTP: revocation on disable, role and password changes; logout of one
session on both services; in HIPAA mode 15-minute tokens refreshed only while the session
is active."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import text

from bi_agent.http.auth import SESSION_ENDED, SESSION_LOGGED_OUT
from bi_agent.ml_service.app import create_app as create_ml_service
from bi_agent.security.audit import Action
from bi_agent.security.sessions import SessionActivity, activity_key
from bi_agent.security.tokens import verify_access_token
from tests.analytics_api.conftest import Api, bearer, open_api
from tests.analytics_api.test_audit import records
from tests.conftest import EmbeddedStack

NEW_PASSWORD = "another long password"


@pytest.fixture
def hipaa_api(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url, hipaa_mode=True) as opened:
        yield opened


def login(api: Api, role: str = "viewer") -> str:
    response = api.login(api.accounts[role].username)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def refresh(api: Api, token: str) -> Any:
    return api.client.post("/api/v1/auth/refresh", headers=bearer(token))


def me(api: Api, token: str) -> int:
    return api.client.get("/api/v1/me", headers=bearer(token)).status_code


def admin_call(api: Api, method: str, path: str, body: dict[str, Any]) -> None:
    response = api.client.request(method, f"/api/v1{path}", json=body, headers=api.headers("admin"))
    assert response.status_code == 200, response.text


def assert_ended(api: Api, token: str) -> None:
    for response in (api.client.get("/api/v1/me", headers=bearer(token)), refresh(api, token)):
        assert response.status_code == 401
        assert response.json()["detail"] == SESSION_ENDED
        assert response.headers["www-authenticate"] == "Bearer"


def test_disabling_a_user_ends_their_sessions_for_good(api: Api) -> None:
    viewer = api.accounts["viewer"]
    token = login(api)
    admin_call(api, "PATCH", f"/users/{viewer.id}", {"is_active": False})
    assert me(api, token) == 401
    admin_call(api, "PATCH", f"/users/{viewer.id}", {"is_active": True})
    # Enabled again, the old token stays dead: only a new login gets in.
    assert_ended(api, token)
    assert me(api, login(api)) == 200


def test_changing_roles_ends_sessions_and_keeping_them_does_not(api: Api) -> None:
    viewer = api.accounts["viewer"]
    token = login(api)
    admin_call(api, "PUT", f"/users/{viewer.id}/roles", {"roles": ["viewer"]})
    assert me(api, token) == 200
    admin_call(api, "PUT", f"/users/{viewer.id}/roles", {"roles": ["viewer", "analyst"]})
    assert_ended(api, token)
    fresh = login(api)
    assert api.client.get("/api/v1/me", headers=bearer(fresh)).json()["roles"] == ["analyst", "viewer"]


def test_a_new_password_ends_sessions(api: Api) -> None:
    viewer = api.accounts["viewer"]
    token, other_device = login(api), login(api)
    admin_call(api, "PATCH", f"/users/{viewer.id}", {"password": NEW_PASSWORD})
    assert_ended(api, token)
    assert_ended(api, other_device)
    assert api.login(viewer.username, NEW_PASSWORD).status_code == 200


def test_others_sessions_are_untouched(api: Api) -> None:
    analyst_token = login(api, "analyst")
    admin_call(api, "PUT", f"/users/{api.accounts['viewer'].id}/roles", {"roles": []})
    assert me(api, analyst_token) == 200


def test_outside_hipaa_mode_tokens_keep_their_lifetime_and_refresh_freely(api: Api) -> None:
    token = login(api)
    assert api.login(api.accounts["viewer"].username).json()["expires_in"] == 60 * 60
    refreshed = refresh(api, token)
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["expires_in"] == 60 * 60
    new, old = (verify_access_token(api.settings, value) for value in (body["access_token"], token))
    assert new.session_id == old.session_id
    assert me(api, body["access_token"]) == 200


def logout(api: Api, token: str) -> Any:
    return api.client.post("/api/v1/auth/logout", headers=bearer(token))


def test_logout_ends_that_session_and_its_refreshed_tokens_alone(
    api: Api, embedded: EmbeddedStack, database: str, redis_url: str
) -> None:
    token, other_session = login(api), login(api)
    refreshed = refresh(api, token).json()["access_token"]
    # A service process that has already seen the session (its principal is cached).
    with open_api(embedded, database, redis_url, create=create_ml_service) as ml:
        assert ml.client.get("/api/v1/models", headers=bearer(token)).status_code == 200
        reply = logout(api, token)
        assert reply.status_code == 204 and reply.content == b""
        for ended in (token, refreshed):
            for response in (api.client.get("/api/v1/me", headers=bearer(ended)), refresh(api, ended)):
                assert response.status_code == 401
                assert response.json()["detail"] == SESSION_LOGGED_OUT
        # The other process hears of it through the catalog epoch's NOTIFY, in moments.
        deadline = time.monotonic() + 10
        while ml.client.get("/api/v1/models", headers=bearer(token)).status_code != 401:
            assert time.monotonic() < deadline, "the ML service still takes a logged-out token"
            time.sleep(0.05)
    # The user's other session goes on; logging out twice is a 401, not a second record.
    assert me(api, other_session) == 200
    assert logout(api, token).status_code == 401
    logouts = records(api, action=Action.LOGOUT)
    assert [(entry["username"], entry["outcome"]) for entry in logouts] == [
        (api.accounts["viewer"].username, "success")
    ]
    # A new login is a new session, untouched by the old one's end.
    assert me(api, login(api)) == 200


def test_ended_sessions_are_kept_only_while_their_tokens_could_live(api: Api) -> None:
    first, second = login(api), login(api)
    assert logout(api, first).status_code == 204
    with api.engine.begin() as connection:
        lifetime = connection.execute(
            text("SELECT extract(epoch FROM expires_at - ended_at) FROM bi.ended_sessions")
        ).scalar_one()
        # As if the first logout was long ago: its row is past use, and the next logout prunes it.
        connection.execute(text("UPDATE bi.ended_sessions SET expires_at = now() - interval '1 second'"))
    assert float(lifetime) == pytest.approx(60 * 60, abs=5)
    assert logout(api, second).status_code == 204
    with api.engine.connect() as connection:
        kept = connection.execute(text("SELECT session_id FROM bi.ended_sessions")).scalars().all()
    assert kept == [verify_access_token(api.settings, second).session_id]


def test_logout_needs_a_valid_token(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
        response = api.client.post("/api/v1/auth/logout", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.token"}])
def test_refresh_needs_a_valid_token(api: Api, headers: dict[str, str]) -> None:
    response = api.client.post("/api/v1/auth/refresh", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def set_last_activity(api: Api, token: str, seconds_ago: float) -> None:
    """As if the session's last request was `seconds_ago`, seen by another process: Redis holds
    that time, and this process's memory of the session is forgotten."""
    session = verify_access_token(api.settings, token).session_id
    client = redis.Redis.from_url(api.settings.redis_address())
    try:
        client.set(activity_key(session), repr(time.time() - seconds_ago), ex=3600)
    finally:
        client.close()
    api.app.state.session_activity = SessionActivity(
        api.app.state.connections.redis_async, api.settings.hipaa_idle_timeout_minutes * 60
    )


def test_hipaa_tokens_live_fifteen_minutes_and_refresh_while_active(hipaa_api: Api) -> None:
    api = hipaa_api
    response = api.login(api.accounts["viewer"].username)
    assert response.json()["expires_in"] == 15 * 60
    token = response.json()["access_token"]
    assert me(api, token) == 200
    refreshed = refresh(api, token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["expires_in"] == pytest.approx(15 * 60, abs=5)
    new = refreshed.json()["access_token"]
    assert verify_access_token(api.settings, new).session_id == verify_access_token(api.settings, token).session_id
    assert me(api, new) == 200


def test_hipaa_refresh_after_the_idle_timeout_is_refused(hipaa_api: Api) -> None:
    api = hipaa_api
    token = login(api)
    set_last_activity(api, token, 16 * 60)
    response = refresh(api, token)
    assert response.status_code == 401
    assert "idle for more than 15 minutes" in response.json()["detail"]
    assert "log in again" in response.json()["detail"]
    assert me(api, login(api)) == 200


def test_hipaa_refresh_ends_with_the_idle_timeout_and_is_not_activity(hipaa_api: Api) -> None:
    api = hipaa_api
    token = login(api)
    set_last_activity(api, token, 14 * 60)
    first = refresh(api, token)
    assert first.status_code == 200, first.text
    # One minute of the idle timeout is left, not fifteen.
    assert first.json()["expires_in"] == pytest.approx(60, abs=5)
    # Refreshing again does not count as activity: still about a minute, never more.
    second = refresh(api, first.json()["access_token"])
    assert second.status_code == 200
    assert second.json()["expires_in"] <= first.json()["expires_in"]


def test_hipaa_any_request_is_activity(hipaa_api: Api) -> None:
    api = hipaa_api
    token = login(api)
    set_last_activity(api, token, 16 * 60)
    assert me(api, token) == 200
    refreshed = refresh(api, token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["expires_in"] == pytest.approx(15 * 60, abs=5)


def test_hipaa_revocation_applies_to_refresh(hipaa_api: Api) -> None:
    api = hipaa_api
    token = login(api)
    with api.engine.begin() as connection:
        # By hand in psql, as an administrator might: the epoch moves and the token is refused.
        connection.execute(
            text("UPDATE bi.users SET token_version = token_version + 1 WHERE id = :id"),
            {"id": api.accounts["viewer"].id},
        )
    api.app.state.catalog_epoch.catch_up()
    assert_ended(api, token)


def test_me_tells_a_client_that_hipaa_mode_is_on(hipaa_api: Api) -> None:
    reply = hipaa_api.client.get("/api/v1/me", headers=bearer(login(hipaa_api)))
    assert reply.status_code == 200 and reply.json()["hipaa_mode"] is True
