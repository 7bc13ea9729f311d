"""Real servers for the tests: the machine's PostgreSQL 15 and Redis, and the embedded
PostgreSQL 18 (pgvector), Valkey and SeaweedFS, started once per session in a
temporary BI_AGENT_HOME. Tests that take `postgres` or `redis` run on both kinds.

A missing machine server skips its half of those tests with the reason, except
under CI (CI=true), where every integration test must run.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from bi_agent.infra import migrations
from bi_agent.infra.embedded import EmbeddedServers
from bi_agent.infra.home import HomeSecrets
from bi_agent.settings import Settings

# Every variable Settings reads; tests build Settings from explicit values only.
SETTINGS_VARIABLES = [name.upper() for name in Settings.model_fields]

SYSTEM_POSTGRES_URL = os.environ.get("TEST_SYSTEM_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SYSTEM_REDIS_URL = os.environ.get("TEST_SYSTEM_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_configure(config: pytest.Config) -> None:
    # The process environment must not leak into tests (a developer's DATABASE_URL, say).
    for variable in SETTINGS_VARIABLES:
        os.environ.pop(variable, None)
    os.environ["BI_AGENT_TEST"] = "1"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI runs every integration test)")
    pytest.skip(reason)


# Tests that need no home of their own sign tokens with this session's secret.
TEST_JWT_SECRET = secrets.token_urlsafe(48)


def make_settings(**values: Any) -> Settings:
    """Settings from these values and defaults only: no .env file, and pytest_configure cleared the
    env. Without JWT_SECRET and without a home that has one, this session's TEST_JWT_SECRET."""
    settings = Settings(_env_file=None, **values)
    if settings.jwt_secret is None:
        settings.jwt_secret = SecretStr(TEST_JWT_SECRET)
    return settings


@dataclass(frozen=True)
class EmbeddedStack:
    home: Path
    addresses: dict[str, str]

    def service_environment(self, home: Path, **values: str) -> dict[str, str]:
        """The environment of a process with a home of its own on these servers: their addresses
        and credentials (the JWT secret of stack.settings() too), and `values` (setting names)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "REDIS_", "MINIO_"))}
        env.update(
            BI_AGENT_HOME=str(home),
            DATABASE_URL=self.addresses["postgres"],
            REDIS_URL=self.addresses["redis"],
            MINIO_ENDPOINT=self.addresses["s3"],
            MINIO_ROOT_USER=self.secrets.s3_access_key,
            MINIO_ROOT_PASSWORD=self.secrets.s3_secret_key,
            JWT_SECRET=self.secrets.jwt_secret,
        )
        env.update(values)
        return env

    @property
    def secrets(self) -> HomeSecrets:
        """The credentials the servers were started with (the Valkey password, the S3 keys)."""
        found = HomeSecrets.read(self.home)
        assert found is not None
        return found

    def settings(self, **values: Any) -> Settings:
        defaults: dict[str, Any] = {
            "bi_agent_home": self.home,
            "database_url": self.addresses["postgres"],
            "redis_url": self.addresses["redis"],
            "minio_endpoint": self.addresses["s3"],
        }
        return make_settings(**{**defaults, **values})


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    home = tmp_path_factory.mktemp("bi-agent-home")
    servers = EmbeddedServers(make_settings(bi_agent_home=home))
    addresses = servers.start()
    try:
        yield EmbeddedStack(home, addresses)
    finally:
        servers.stop()


@dataclass(frozen=True)
class PostgresServer:
    kind: str
    admin_url: str  # a libpq URL to a maintenance database

    def conninfo(self, database: str) -> str:
        return (
            make_url(self.admin_url)
            .set(drivername="postgresql", database=database)
            .render_as_string(hide_password=False)
        )

    def sqlalchemy_url(self, database: str) -> str:
        return (
            make_url(self.admin_url)
            .set(drivername="postgresql+psycopg", database=database)
            .render_as_string(hide_password=False)
        )


@pytest.fixture(scope="session", params=["postgres15", "postgres18"])
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    if request.param == "postgres15":
        try:
            with psycopg.connect(SYSTEM_POSTGRES_URL, connect_timeout=3) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError as error:
            unavailable(f"the machine's PostgreSQL at {SYSTEM_POSTGRES_URL} is unreachable: {error}")
        return PostgresServer("postgres15", SYSTEM_POSTGRES_URL)
    stack: EmbeddedStack = request.getfixturevalue("embedded")
    url = make_url(stack.addresses["postgres"]).set(drivername="postgresql", database="postgres")
    return PostgresServer("postgres18", url.render_as_string(hide_password=False))


@contextmanager
def new_database(postgres: PostgresServer, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on `postgres` (a copy of `template`, else empty), dropped afterwards; yields its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with psycopg.connect(postgres.admin_url, autocommit=True) as connection:
        connection.execute(statement)
    try:
        yield name
    finally:
        with psycopg.connect(postgres.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(postgres: PostgresServer) -> Iterator[str]:
    """A database at the newest revision, migrated once per session and server: each test's
    database is a copy of it (a file copy in PostgreSQL, a tenth of what migrating costs)."""
    with new_database(postgres, "bi_template") as name:
        engine = create_engine(postgres.sqlalchemy_url(name))
        migrations.upgrade(engine)
        # No connection may stay open on a template while it is copied.
        engine.dispose()
        yield name


@pytest.fixture
def database(postgres: PostgresServer, migrated_template: str) -> Iterator[str]:
    """A new database on `postgres` at the newest revision, dropped afterwards; yields its SQLAlchemy URL."""
    with new_database(postgres, "bi_test", migrated_template) as name:
        yield postgres.sqlalchemy_url(name)


@pytest.fixture
def empty_database(postgres: PostgresServer) -> Iterator[str]:
    """A new, empty database on `postgres` (for migrations from nothing), dropped afterwards."""
    with new_database(postgres, "bi_empty") as name:
        yield postgres.sqlalchemy_url(name)


@pytest.fixture(scope="session", params=["redis7", "valkey"])
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis7":
        client = redis.Redis.from_url(SYSTEM_REDIS_URL, socket_connect_timeout=2)
        try:
            client.ping()
        except redis.RedisError as error:
            unavailable(f"the machine's Redis at {SYSTEM_REDIS_URL} is unreachable: {error}")
        finally:
            client.close()
        return SYSTEM_REDIS_URL
    stack: EmbeddedStack = request.getfixturevalue("embedded")
    return stack.addresses["redis"]


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """An engine on `database`, at the newest revision."""
    created = create_engine(database)
    yield created
    created.dispose()
