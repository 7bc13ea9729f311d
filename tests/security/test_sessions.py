"""Sessions: token lifetimes, the token version that revokes, the idle timeout of HIPAA mode,
and the activity kept in Redis at most once a minute."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import jwt
import pytest
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine, text

from bi_agent.errors import AuthenticationError
from bi_agent.infra.ports import free_port
from bi_agent.security import users
from bi_agent.security.permissions import Principal
from bi_agent.security.sessions import WRITE_INTERVAL_SECONDS, SessionActivity, activity_key, refresh_access_token
from bi_agent.security.tokens import TokenClaims, access_token_lifetime, issue_access_token, verify_access_token
from bi_agent.settings import Settings
from tests.conftest import make_settings

PASSWORD = "a long enough password"


def hipaa(**values: Any) -> Settings:
    return make_settings(hipaa_mode=True, **values)


def principal(version: int = 0) -> Principal:
    return Principal(uuid.uuid4(), "nurse", frozenset({"viewer"}), frozenset({"datasets:read"}), token_version=version)


def lifetime_of(settings: Settings, token: str) -> float:
    claims = verify_access_token(settings, token)
    return claims.expires_at - claims.issued_at


def test_tokens_carry_their_version_and_session() -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    issued = issue_access_token(settings, user_id, "nurse", token_version=7)
    claims = verify_access_token(settings, issued.token)
    assert (claims.user_id, claims.token_version, claims.session_id) == (user_id, 7, issued.session_id)
    assert len(issued.session_id) == 32
    # Each login is a session of its own; a refresh continues one.
    assert issue_access_token(settings, user_id, "nurse").session_id != issued.session_id
    continued = issue_access_token(settings, user_id, "nurse", session_id=issued.session_id)
    assert verify_access_token(settings, continued.token).session_id == issued.session_id


def test_a_token_without_a_version_is_version_zero_and_a_bad_version_is_refused() -> None:
    settings = make_settings()
    secret = settings.signing_secret()
    base: dict[str, Any] = {"sub": str(uuid.uuid4()), "aud": "bi-agent", "iss": "bi-agent", "iat": int(time.time())}
    base["exp"] = base["iat"] + 60
    assert verify_access_token(settings, jwt.encode(base, secret, algorithm="HS256")).token_version == 0
    for version in ("1", 1.0, True):
        with pytest.raises(AuthenticationError, match="not valid"):
            verify_access_token(settings, jwt.encode({**base, "ver": version}, secret, algorithm="HS256"))


def test_lifetimes_outside_and_in_hipaa_mode() -> None:
    assert access_token_lifetime(make_settings()).total_seconds() == 60 * 60
    assert access_token_lifetime(make_settings(access_token_expire_minutes=5)).total_seconds() == 5 * 60
    assert access_token_lifetime(hipaa()).total_seconds() == 15 * 60
    assert access_token_lifetime(hipaa(access_token_expire_minutes=600)).total_seconds() == 15 * 60
    assert access_token_lifetime(hipaa(hipaa_access_token_expire_minutes=5)).total_seconds() == 5 * 60
    issued = issue_access_token(hipaa(), uuid.uuid4(), "nurse")
    assert issued.expires_in == 15 * 60
    assert lifetime_of(hipaa(), issued.token) == pytest.approx(15 * 60, abs=1)


def claims_of(settings: Settings, caller: Principal) -> TokenClaims:
    token = issue_access_token(settings, caller.user_id, caller.username, token_version=caller.token_version)
    return verify_access_token(settings, token.token)


def test_hipaa_refresh_within_the_idle_timeout_continues_the_session() -> None:
    settings = hipaa()
    caller = principal(version=3)
    claims = claims_of(settings, caller)
    now = time.time()
    fresh = refresh_access_token(settings, caller, claims, last_activity=now - 30, now=now)
    refreshed = verify_access_token(settings, fresh.token)
    assert (refreshed.session_id, refreshed.token_version, refreshed.user_id) == (claims.session_id, 3, caller.user_id)
    assert fresh.expires_in == pytest.approx(15 * 60 - 30, abs=2)


def test_hipaa_refresh_never_outlives_the_idle_timeout() -> None:
    settings = hipaa(hipaa_access_token_expire_minutes=30, hipaa_idle_timeout_minutes=15)
    caller = principal()
    now = time.time()
    fresh = refresh_access_token(settings, caller, claims_of(settings, caller), last_activity=now - 10 * 60, now=now)
    # Idle for ten minutes: five are left, not the token's thirty.
    assert fresh.expires_in == pytest.approx(5 * 60, abs=2)
    assert verify_access_token(settings, fresh.token).expires_at == pytest.approx(now + 5 * 60, abs=2)


@pytest.mark.parametrize("idle_seconds", [15 * 60, 15 * 60 + 1, 3600])
def test_hipaa_refresh_after_the_idle_timeout_is_refused(idle_seconds: int) -> None:
    settings = hipaa()
    caller = principal()
    now = time.time()
    with pytest.raises(AuthenticationError, match=r"idle for more than 15 minutes.*log in again"):
        refresh_access_token(settings, caller, claims_of(settings, caller), last_activity=now - idle_seconds, now=now)


def test_hipaa_refresh_without_known_activity_is_refused() -> None:
    settings = hipaa()
    caller = principal()
    with pytest.raises(AuthenticationError, match="log in again"):
        refresh_access_token(settings, caller, claims_of(settings, caller), last_activity=None, now=time.time())


def test_refresh_outside_hipaa_mode_needs_no_activity() -> None:
    settings = make_settings(access_token_expire_minutes=45)
    caller = principal(version=2)
    fresh = refresh_access_token(settings, caller, claims_of(settings, caller), last_activity=None, now=time.time())
    assert fresh.expires_in == 45 * 60
    assert verify_access_token(settings, fresh.token).token_version == 2


def version_of(engine: Engine, user_id: uuid.UUID) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT token_version FROM bi.users WHERE id = :id"), {"id": user_id}).scalar_one()
        )


def epoch_of(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT epoch FROM bi.catalog_epoch")).scalar_one())


def test_disabling_roles_and_passwords_move_the_token_version(engine: Engine) -> None:
    with engine.begin() as connection:
        admin = users.create_user(connection, "chief", PASSWORD, ["admin"])
        nurse = users.create_user(connection, "nurse", PASSWORD, ["viewer"])

    def change(**fields: Any) -> None:
        with engine.begin() as connection:
            roles = fields.pop("roles", None)
            if roles is not None:
                users.set_roles(connection, nurse.id, roles, acting_user_id=admin.id)
            else:
                users.update_user(connection, nurse.id, acting_user_id=admin.id, **fields)

    steps: list[tuple[dict[str, Any], int]] = [
        ({"is_active": True}, 0),  # already active: nothing changes
        ({"is_active": False}, 1),
        ({"is_active": False}, 0),
        ({"is_active": True}, 1),  # enabled again, the tokens from before stay dead
        ({"password": "another long password"}, 1),
        ({"roles": ["viewer"]}, 0),
        ({"roles": ["viewer", "analyst"]}, 1),
        ({"roles": []}, 1),
    ]
    for fields, moved in steps:
        version, epoch = version_of(engine, nurse.id), epoch_of(engine)
        change(**dict(fields))
        assert version_of(engine, nurse.id) - version == moved, fields
        if moved:
            # The epoch moves with it, so principals cached per epoch are read again.
            assert epoch_of(engine) > epoch, fields
    assert version_of(engine, admin.id) == 0


def test_a_password_change_alone_moves_the_catalog_epoch(engine: Engine) -> None:
    with engine.begin() as connection:
        nurse = users.create_user(connection, "nurse", PASSWORD, ["viewer"])
    before = epoch_of(engine)
    with engine.begin() as connection:
        users.update_user(connection, nurse.id, acting_user_id=nurse.id, password="another long password")
    assert epoch_of(engine) > before
    # A login writes last_login_at only, which moves nothing.
    before = epoch_of(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.users SET last_login_at = now() WHERE id = :id"), {"id": nurse.id})
    assert epoch_of(engine) == before


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def stored(client: AsyncRedis, session: str) -> float:
    value = await client.get(activity_key(session))
    assert value is not None
    return float(value)


def test_activity_is_written_to_redis_at_most_once_a_minute(redis_url: str) -> None:
    session = uuid.uuid4().hex
    clock = Clock()

    async def scenario() -> None:
        client = AsyncRedis.from_url(redis_url)
        try:
            here = SessionActivity(client, idle_timeout_seconds=900, clock=clock)
            elsewhere = SessionActivity(client, idle_timeout_seconds=900, clock=clock)
            assert await here.last_activity(session) is None

            await here.touch(session)
            assert await stored(client, session) == clock.now
            assert 900 < await client.ttl(activity_key(session)) <= 900 + WRITE_INTERVAL_SECONDS

            first = clock.now
            clock.now += 30
            await here.touch(session)
            # Within the minute: remembered here, not written.
            assert await stored(client, session) == first
            assert await here.last_activity(session) == clock.now
            assert await elsewhere.last_activity(session) == first

            clock.now += WRITE_INTERVAL_SECONDS
            await here.touch(session)
            assert await elsewhere.last_activity(session) == clock.now
        finally:
            await client.delete(activity_key(session))
            await client.aclose()

    asyncio.run(scenario())


def test_without_redis_activity_is_known_per_process(caplog: pytest.LogCaptureFixture) -> None:
    session = uuid.uuid4().hex
    clock = Clock()

    async def scenario() -> None:
        client = AsyncRedis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
        try:
            here = SessionActivity(client, idle_timeout_seconds=900, clock=clock)
            await here.touch(session)
            clock.now += 10
            await here.touch(session)
            assert await here.last_activity(session) == clock.now
            assert await here.last_activity(uuid.uuid4().hex) is None
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    warnings = [record for record in caplog.records if "Redis is unreachable" in record.getMessage()]
    assert len(warnings) == 1
