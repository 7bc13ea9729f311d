"""The PostgreSQL engine (SQLAlchemy 2 over psycopg 3) and a clear word when it is unreachable."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from bi_agent.errors import DependencyUnavailableError
from bi_agent.infra.tracing import trace_engine
from bi_agent.settings import Settings


def create_database_engine(settings: Settings) -> Engine:
    engine = create_engine(
        settings.postgres_url(),
        pool_pre_ping=True,
        # A bound parameter is a value from the data (a filter on a PHI column, a row being
        # written): SQLAlchemy would quote them in every error message and statement log line.
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        connect_args={"connect_timeout": settings.db_connect_timeout_seconds, "application_name": "bi-agent"},
    )
    trace_engine(engine)
    return engine


def database_setting_name(settings: Settings) -> str:
    """The variable a person changes to fix the database address."""
    if settings.database_url is not None:
        return "DATABASE_URL"
    if settings.db_host is not None:
        return "DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME"
    return "BI_AGENT_HOME (embedded PostgreSQL)"


def safe_url(url: URL) -> str:
    """The URL with its password hidden, fit for a message."""
    return url.render_as_string(hide_password=True)


def first_line(error: BaseException) -> str:
    # Driver messages run over several lines with hints; the first says what failed.
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def wait_for_database(engine: Engine, settings: Settings, timeout: float = 30.0) -> None:
    """Wait until PostgreSQL answers; give up at once on a refusal that waiting cannot cure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            reason = first_line(error)
            permanent = any(
                marker in reason for marker in ("password authentication failed", "does not exist", "role ")
            )
            if permanent or time.monotonic() >= deadline:
                raise DependencyUnavailableError(
                    f"cannot connect to PostgreSQL at {safe_url(engine.url)} "
                    f"(check {database_setting_name(settings)}): {reason}"
                ) from None
            time.sleep(0.5)


def psycopg_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one, for COPY and composed identifiers,
    inside the same transaction."""
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    return driver_connection
