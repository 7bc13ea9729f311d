"""Which errors are outages, retried by tasks and answered 503: a lost connection and a busy or
restarting server, never what PostgreSQL refuses of the work itself, nor bad input."""

from __future__ import annotations

import psycopg
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from kombu.exceptions import OperationalError as BrokerError
from psycopg import errors
from redis.exceptions import AuthenticationError, BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DataError, OperationalError

from bi_agent.errors import DependencyUnavailableError, InvalidInputError, NotFoundError
from bi_agent.infra import outages


def _wrapped(error: psycopg.Error) -> OperationalError:
    return OperationalError("SELECT 1", {}, error)


OUTAGES = {
    "connection-lost": psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
    "connection-refused-under-sqlalchemy": _wrapped(psycopg.OperationalError("connection failed")),
    "connection-failure": errors.ConnectionFailure("connection failure"),
    "admin-shutdown": _wrapped(errors.AdminShutdown("terminating connection due to administrator command")),
    "crash-shutdown": errors.CrashShutdown("crash"),
    "starting-up": errors.CannotConnectNow("the database system is starting up"),
    "too-many-connections": errors.TooManyConnections("sorry, too many clients already"),
    "serialization-failure": errors.SerializationFailure("could not serialize access"),
    "deadlock": errors.DeadlockDetected("deadlock detected"),
    "redis": RedisConnectionError("Connection refused"),
    "redis-loading": BusyLoadingError("Redis is loading the dataset in memory"),
    "broker": BrokerError("Error 111 connecting to localhost:6379. Connection refused."),
    "s3": EndpointConnectionError(endpoint_url="http://127.0.0.1:8333"),
    "said-so": DependencyUnavailableError("the job queue (Redis) cannot take import_data now"),
}
NOT_OUTAGES = {
    "too-many-columns": errors.TooManyColumns("tables can have at most 1600 columns"),
    "program-limit-under-sqlalchemy": _wrapped(errors.ProgramLimitExceeded("index row size exceeds maximum")),
    "bad-value": DataError("INSERT", {}, errors.InvalidTextRepresentation("invalid input syntax for type integer")),
    "syntax": errors.SyntaxError("syntax error at or near"),
    "unique": errors.UniqueViolation("duplicate key value violates unique constraint"),
    "permission": errors.InsufficientPrivilege("permission denied for table"),
    "redis-password": AuthenticationError("invalid username-password pair"),
    "s3-credentials": NoCredentialsError(),
    "bad-input": InvalidInputError("unknown pipeline 'shred'"),
    "not-found": NotFoundError("no dataset named 'nowhere'"),
    "bug": ValueError("could not convert string to float: 'MRN-7316509'"),
}


@pytest.mark.parametrize("error", OUTAGES.values(), ids=OUTAGES.keys())
def test_an_outage_is_unavailable_for_now(error: Exception) -> None:
    found = outages.outage(error)
    assert isinstance(found, DependencyUnavailableError)
    assert found.status_code == 503


@pytest.mark.parametrize("error", NOT_OUTAGES.values(), ids=NOT_OUTAGES.keys())
def test_what_trying_again_would_repeat_is_no_outage(error: Exception) -> None:
    assert outages.outage(error) is None


def test_an_outage_says_which_dependency_without_values() -> None:
    found = outages.outage(_wrapped(psycopg.OperationalError('connection to server at "10.1.2.3" failed')))
    assert str(found) == "PostgreSQL is unavailable for now (OperationalError: connection to server at)"
