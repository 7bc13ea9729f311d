"""Login, tokens and /me: what gets in, what is refused, and that refusals tell nothing away."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2
import jwt
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from bi_agent.infra.ports import free_port
from bi_agent.security.throttle import LoginThrottle
from bi_agent.security.tokens import AUDIENCE, ISSUER, NOT_VALID
from tests.analytics_api.conftest import PASSWORD, Api, bearer, open_api, random_client
from tests.conftest import EmbeddedStack


def unknown_username() -> str:
    # Unique per call: failure counts in the shared Redis outlive a test.
    return f"nobody-{uuid.uuid4().hex[:8]}"


def test_login_gives_a_token_that_works_on_me(api: Api) -> None:
    viewer = api.accounts["viewer"]
    response = api.login(viewer.username)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == api.settings.access_token_expire_minutes * 60

    me = api.client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    with api.engine.connect() as connection:
        granted = sorted(
            connection.execute(text("SELECT permission FROM bi.role_permissions WHERE role = 'viewer'")).scalars()
        )
        last_login = connection.execute(
            text("SELECT last_login_at FROM bi.users WHERE id = :id"), {"id": viewer.id}
        ).scalar_one()
    assert me.json() == {
        "id": str(viewer.id),
        "username": viewer.username,
        "roles": ["viewer"],
        "permissions": granted,
        "hipaa_mode": False,
    }
    assert last_login is not None
    assert datetime.now(UTC) - last_login < timedelta(minutes=1)


def test_username_is_case_insensitive_at_login(api: Api) -> None:
    assert api.login(api.accounts["viewer"].username.upper()).status_code == 200


def test_wrong_password_and_unknown_user_read_the_same(api: Api) -> None:
    wrong_password = api.login(api.accounts["viewer"].username, "not the password at all")
    unknown_user = api.login(unknown_username(), PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["detail"] == "wrong username or password"
    assert PASSWORD not in wrong_password.text + unknown_user.text


def test_login_body_is_validated(api: Api) -> None:
    for body in ({}, {"username": "x"}, {"username": "", "password": "p"}, {"username": "x", "password": ""}):
        response = api.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"]


def test_disabled_user_cannot_log_in_and_their_token_stops_working(api: Api) -> None:
    viewer = api.accounts["viewer"]
    token = api.login(viewer.username).json()["access_token"]
    assert api.client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    disabled = api.client.patch(f"/api/v1/users/{viewer.id}", json={"is_active": False}, headers=api.headers("admin"))
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["is_active"] is False

    after = api.client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"
    refused = api.login(viewer.username)
    assert refused.status_code == 401
    assert "disabled" in refused.json()["detail"]
    # A guesser with the wrong password learns nothing about the account.
    assert api.login(viewer.username, "a wrong password").json()["detail"] == "wrong username or password"

    api.client.patch(f"/api/v1/users/{viewer.id}", json={"is_active": True}, headers=api.headers("admin"))
    assert api.login(viewer.username).status_code == 200


def login_from(api: Api, client: tuple[str, int], username: str, password: str = PASSWORD) -> httpx2.Response:
    """A login from another client address, to the same running service."""
    other = TestClient(api.app, client=client, raise_server_exceptions=False)
    return other.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_repeated_failures_get_429_with_retry_after(api: Api) -> None:
    viewer = api.accounts["viewer"]
    for _ in range(api.settings.login_failures_before_delay):
        assert api.login(viewer.username, "a wrong password").status_code == 401

    # Even the right password is refused now from this client: guessing on gains nothing.
    limited = api.login(viewer.username)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= api.settings.login_delay_seconds
    assert limited.json()["status"] == 429
    assert "too many failed logins" in limited.json()["detail"]

    # The wait is per username and client: another user from the same address still gets in.
    assert api.login(api.accounts["analyst"].username).status_code == 200


def test_someone_elses_failures_never_lock_the_right_password_out(api: Api, redis_url: str) -> None:
    viewer = api.accounts["viewer"]
    attacker = random_client()
    for _ in range(api.settings.login_failures_before_delay):
        assert login_from(api, attacker, viewer.username, "a guess").status_code == 401
    assert login_from(api, attacker, viewer.username).status_code == 429
    assert api.login(viewer.username).status_code == 200

    client = redis.Redis.from_url(redis_url)
    # An account is under attack after three failures from anywhere, so the test needs few.
    api.app.state.login_throttle = LoginThrottle.from_settings(
        client, api.settings.model_copy(update={"login_failures_per_account": 3})
    )
    try:
        analyst = api.accounts["analyst"]
        # Addresses with a guess each, as from a botnet.
        for _ in range(3):
            assert login_from(api, random_client(), analyst.username, "a guess").status_code == 401
        one_more = random_client()
        assert login_from(api, one_more, analyst.username, "a guess").status_code == 401
        # Under attack, a client waits after its first failure for the account...
        assert login_from(api, one_more, analyst.username).status_code == 429
        # ...and one that has not been failing gets in with the right password.
        assert api.login(analyst.username).status_code == 200
    finally:
        client.close()


def test_unknown_usernames_are_limited_too(api: Api) -> None:
    nobody = unknown_username()
    for _ in range(api.settings.login_failures_before_delay):
        assert api.login(nobody).status_code == 401
    assert api.login(nobody).status_code == 429


def test_success_resets_the_failure_count(api: Api) -> None:
    viewer = api.accounts["viewer"]
    for _ in range(2):
        for _ in range(api.settings.login_failures_before_delay - 1):
            assert api.login(viewer.username, "a wrong password").status_code == 401
        assert api.login(viewer.username).status_code == 200


def test_one_client_is_limited_across_usernames(api: Api) -> None:
    for attempt in range(api.settings.login_failures_per_client):
        assert api.login(unknown_username()).status_code == 401, attempt
    limited = api.login(api.accounts["viewer"].username)
    assert limited.status_code == 429
    assert "retry-after" in limited.headers


def test_login_works_again_after_the_wait(api: Api, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    # The same throttle with a short wait, so the test need not wait half a minute.
    short = api.settings.model_copy(update={"login_delay_seconds": 1})
    api.app.state.login_throttle = LoginThrottle.from_settings(client, short)
    try:
        viewer = api.accounts["viewer"]
        for _ in range(api.settings.login_failures_before_delay):
            api.login(viewer.username, "a wrong password")
        limited = api.login(viewer.username)
        assert limited.status_code == 429
        retry_after = int(limited.headers["retry-after"])
        assert retry_after == 1
        time.sleep(retry_after + 0.2)
        assert api.login(viewer.username).status_code == 200
    finally:
        client.close()


def test_login_works_with_redis_down_and_warns_once(
    embedded: EmbeddedStack, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with open_api(embedded, database, closed) as api, caplog.at_level(logging.WARNING):
        viewer = api.accounts["viewer"]
        assert api.login(viewer.username, "a wrong password").status_code == 401
        for _ in range(api.settings.login_failures_before_delay + 1):
            response = api.login(viewer.username)
            assert response.status_code == 200, response.text
            assert api.client.get("/api/v1/me", headers=bearer(response.json()["access_token"])).status_code == 200
    warnings = [record for record in caplog.records if "Redis is unreachable" in record.getMessage()]
    assert len(warnings) == 1


def claims(api: Api, **changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    viewer = api.accounts["viewer"]
    base: dict[str, object] = {
        "sub": str(viewer.id),
        "name": viewer.username,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return {**base, **changes}


def secret(api: Api) -> str:
    return api.settings.signing_secret()


def test_a_crafted_valid_token_is_accepted(api: Api) -> None:
    # The control for the refusals below: the same claims, correctly signed, get in.
    token = jwt.encode(claims(api), secret(api), algorithm="HS256")
    assert api.client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_expired_token_is_401(api: Api) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode(claims(api, iat=past, exp=past + timedelta(minutes=5)), secret(api), algorithm="HS256")
    response = api.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda api: jwt.encode(claims(api), "another secret " * 4, algorithm="HS256"), id="other-secret"),
        pytest.param(lambda api: jwt.encode(claims(api), None, algorithm="none"), id="alg-none"),
        pytest.param(lambda api: jwt.encode(claims(api), secret(api), algorithm="HS384"), id="other-algorithm"),
        pytest.param(lambda api: jwt.encode(claims(api, aud="elsewhere"), secret(api), algorithm="HS256"), id="aud"),
        pytest.param(lambda api: jwt.encode(claims(api, iss="elsewhere"), secret(api), algorithm="HS256"), id="iss"),
        pytest.param(lambda api: jwt.encode(claims(api, sub="not-a-uuid"), secret(api), algorithm="HS256"), id="sub"),
        pytest.param(
            lambda api: jwt.encode({k: v for k, v in claims(api).items() if k != "exp"}, secret(api), "HS256"),
            id="no-exp",
        ),
        pytest.param(lambda api: "not.a.token", id="garbage"),
    ],
)
def test_forged_tokens_are_401(api: Api, forge: Callable[[Api], str]) -> None:
    response = api.client.get("/api/v1/me", headers=bearer(forge(api)))
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == NOT_VALID
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_of_a_deleted_user_is_401(api: Api) -> None:
    headers = api.headers("viewer")
    with api.engine.begin() as connection:
        connection.execute(text("DELETE FROM bi.users WHERE id = :id"), {"id": api.accounts["viewer"].id})
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}])
def test_missing_token_is_401_with_www_authenticate(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["title"] == "Not authenticated"
