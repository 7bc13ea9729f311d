"""An Analytics API on a fresh, migrated database, with one user per built-in role.

Each test gets its own client address and its own usernames, so the failed-login
counts in the shared Redis never carry over from one test to the next.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx2
import pytest
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from bi_agent.analytics_api.app import create_app
from bi_agent.infra import migrations
from bi_agent.security.passwords import hash_password
from bi_agent.security.tokens import issue_access_token
from bi_agent.settings import Settings, get_settings
from bi_agent.task_queue import QUEUES, create_celery
from bi_agent.worker import tasks
from tests.conftest import EmbeddedStack

PASSWORD = "correct horse battery staple"
ROLES = ("admin", "analyst", "viewer")


@cache
def password_hash() -> str:
    # Hashed once per session: argon2 takes a tenth of a second a time.
    return hash_password(PASSWORD)


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    username: str


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    engine: Engine
    settings: Settings
    accounts: dict[str, Account]  # one per built-in role, by role name

    def add_account(self, name: str, roles: list[str]) -> Account:
        """A user with PASSWORD, named uniquely for this test."""
        username = f"{name}-{uuid.uuid4().hex[:8]}"
        with self.engine.begin() as connection:
            user_id = connection.execute(
                text("INSERT INTO bi.users (username, password_hash) VALUES (:u, :h) RETURNING id"),
                {"u": username, "h": password_hash()},
            ).scalar_one()
            for role in roles:
                connection.execute(
                    text("INSERT INTO bi.user_roles (user_id, role) VALUES (:id, :role)"),
                    {"id": user_id, "role": role},
                )
        return Account(user_id, username)

    def headers(self, role: str) -> dict[str, str]:
        """A bearer token of the role's account, issued directly (no argon2 round)."""
        return bearer(self.token(self.accounts[role]))

    def token(self, account: Account) -> str:
        """A token at the account's current token version (it moves with role and password changes)."""
        with self.engine.connect() as connection:
            version = connection.execute(
                text("SELECT token_version FROM bi.users WHERE id = :id"), {"id": account.id}
            ).scalar_one_or_none()
        return issue_access_token(self.settings, account.id, account.username, token_version=version or 0).token

    def login(self, username: str, password: str = PASSWORD) -> httpx2.Response:
        return self.client.post("/api/v1/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def random_client() -> tuple[str, int]:
    return (f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}", 50000)


@contextmanager
def open_api(
    stack: EmbeddedStack,
    database: str,
    redis_url: str,
    create: Callable[[Settings], FastAPI] = create_app,
    **settings: object,
) -> Iterator[Api]:
    """A service built by `create` (the Analytics API unless told) on a migrated database."""
    engine = create_engine(database)
    migrations.upgrade(engine)
    resolved = stack.settings(database_url=database, redis_url=redis_url, **settings)
    app = create(resolved)
    try:
        # Server errors become 500 replies, as a real client would see them.
        with TestClient(app, client=random_client(), raise_server_exceptions=False) as client:
            api = Api(app, client, engine, resolved, {})
            api.accounts.update({role: api.add_account(role, [role]) for role in ROLES})
            yield api
    finally:
        engine.dispose()


@pytest.fixture
def api(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    with open_api(embedded, database, redis_url) as opened:
        yield opened


@pytest.fixture
def worker(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Celery worker in this process, reading the same settings the API was given."""
    with running_worker(api.settings, monkeypatch):
        yield


@contextmanager
def running_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Celery worker in this process on every queue, its tasks reading `settings`."""
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("REDIS_URL", settings.redis_address())
    monkeypatch.setenv("MINIO_ENDPOINT", settings.s3_endpoint())
    access_key, secret_key = settings.s3_credentials()
    monkeypatch.setenv("MINIO_ROOT_USER", access_key)
    monkeypatch.setenv("MINIO_ROOT_PASSWORD", secret_key)
    monkeypatch.setenv("HIPAA_MODE", str(settings.hipaa_mode).lower())
    get_settings.cache_clear()
    tasks.connections.cache_clear()
    app = create_celery(get_settings())
    # Tasks left queued by an earlier test belong to another database; they must not run here.
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, queues=list(QUEUES), loglevel="WARNING"):
        yield
    tasks.connections().close()
    tasks.connections.cache_clear()
    get_settings.cache_clear()


def upload(api: Api, name: str, filename: str, content: bytes, role: str = "analyst", **form: str) -> Any:
    return api.client.post(
        "/api/v1/datasets",
        headers=api.headers(role),
        data={"name": name, **form},
        files={"file": (filename, content, "application/octet-stream")},
    )


def wait_for_job(api: Api, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.client.get(f"/api/v1/jobs/{job_id}", headers=api.headers("analyst")).json()
        if job["state"] in ("SUCCESS", "FAILURE"):
            return dict(job)
        time.sleep(0.1)
    pytest.fail(f"job {job_id} still {job['state']} after {timeout}s")
