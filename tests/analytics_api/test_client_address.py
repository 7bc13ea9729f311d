"""The client address the Analytics API throttles and audits logins by, with uvicorn started as
`bi-agent up` starts it (bench/servers.http_service uses the same options): X-Forwarded-For is
believed from the peers in FORWARDED_ALLOW_IPS only, the loopback included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from bench.servers import http_service
from sqlalchemy import create_engine, text

from bi_agent.infra import migrations
from tests.conftest import EmbeddedStack

# One kind of PostgreSQL is enough: what is checked is uvicorn's, not the database's.
pytestmark = pytest.mark.parametrize("postgres", ["postgres18"], indirect=True)

LOOPBACK = "127.0.0.1"


@contextmanager
def analytics_api(embedded: EmbeddedStack, database: str, tmp_path: Path, **settings: str) -> Iterator[str]:
    """A real Analytics API on a migrated `database`, counting failed logins in the session's own
    Valkey (the machine's Redis is shared with other test runs, whose loopback it would be)."""
    migrations.upgrade(create_engine(database))
    redis_url = embedded.addresses["redis"]
    env = embedded.service_environment(tmp_path / "home", DATABASE_URL=database, **settings)
    client = redis.Redis.from_url(redis_url)
    try:
        with (
            (tmp_path / "api.log").open("wb") as log,
            http_service("bi_agent.analytics_api.app:create_app", "Analytics API", log, env) as (base, _),
        ):
            yield base
    finally:
        # The loopback's failures must not hold up a later test's logins from it.
        stale = list(client.scan_iter(match=f"bi:login:*{LOOPBACK}*"))
        if stale:
            client.delete(*stale)
        client.close()


def failed_login(base: str, forwarded_for: str) -> int:
    response = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "a guess"},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )
    return response.status_code


def audited_addresses(database: str) -> list[str]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT client_address FROM bi.audit_log WHERE action = 'auth.login' ORDER BY seq")
            ).scalars()
            return list(rows)
    finally:
        engine.dispose()


def test_forwarded_for_from_an_untrusted_loopback_neither_dodges_the_throttle_nor_reaches_the_audit(
    embedded: EmbeddedStack, database: str, tmp_path: Path
) -> None:
    with analytics_api(embedded, database, tmp_path, LOGIN_FAILURES_PER_CLIENT="5") as base:
        statuses = [failed_login(base, f"203.0.113.{attempt}") for attempt in range(8)]
    # Rotating the header changes nothing: one client, five failures, then it waits.
    assert statuses == [401] * 5 + [429] * 3
    assert audited_addresses(database) == [LOOPBACK] * 5


def test_forwarded_for_from_a_trusted_proxy_is_believed(embedded: EmbeddedStack, database: str, tmp_path: Path) -> None:
    with analytics_api(embedded, database, tmp_path, FORWARDED_ALLOW_IPS=LOOPBACK) as base:
        assert failed_login(base, "203.0.113.77") == 401
    assert audited_addresses(database) == ["203.0.113.77"]
