"""Outages: which errors mean PostgreSQL, Redis or S3 is down or busy for now, so that the same
work, tried again a little later, can succeed. Tasks retry an outage with backoff
(worker/task_base.py) and the HTTP services answer it 503 with Retry-After (http/problems.py).
Every other error is the work's own (a value PostgreSQL refuses, a table of too many columns,
a missing permission), and trying it again gives it again: it fails at once.

PostgreSQL says which by its SQLSTATE. A lost or refused connection has none (psycopg raises
OperationalError for it) or one of class 08; psycopg files other states under
OperationalError too (54 program limit exceeded, 55 object not in prerequisite state), so the
class alone cannot decide.
"""

from __future__ import annotations

import psycopg
from botocore.exceptions import BotoCoreError, HTTPClientError
from botocore.exceptions import ConnectionError as S3ConnectionError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from bi_agent.errors import DependencyUnavailableError
from bi_agent.infra import error_text

# The states besides class 08 that pass: a serialization failure and a deadlock (the other
# transaction has gone by then), too many connections, and a server shutting down, crashed or
# starting up.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "53300", "57P01", "57P02", "57P03"})
# The errors of the clients of PostgreSQL, Redis (the cache, and Celery's broker) and S3: those
# among which `outage` finds outages.
CLIENT_ERRORS: tuple[type[Exception], ...] = (DBAPIError, psycopg.Error, RedisError, BrokerError, BotoCoreError)


def outage(error: BaseException) -> DependencyUnavailableError | None:
    """`error` told as the outage it is, without values; None when it is no outage."""
    if isinstance(error, DependencyUnavailableError):
        return error
    dependency = _unavailable_dependency(error)
    if dependency is None:
        return None
    return DependencyUnavailableError(f"{dependency} is unavailable for now ({error_text.describe(error)})")


def _unavailable_dependency(error: BaseException) -> str | None:
    if isinstance(error, DBAPIError):
        # SQLAlchemy recognised a dropped connection (and threw the pool's connections away).
        if error.connection_invalidated:
            return "PostgreSQL"
        return _unavailable_dependency(error.orig) if error.orig is not None else None
    if isinstance(error, psycopg.Error):
        state = error.sqlstate
        lost = isinstance(error, psycopg.OperationalError) if state is None else state.startswith("08")
        return "PostgreSQL" if lost or state in TRANSIENT_SQLSTATES else None
    # Refused credentials are a connection error to redis-py, but no wait cures them.
    if isinstance(error, (RedisConnectionError, RedisTimeoutError)) and not isinstance(
        error, (AuthenticationError, AuthorizationError)
    ):
        return "Redis"
    if isinstance(error, BrokerError):
        return "Redis (the job queue)"
    if isinstance(error, (S3ConnectionError, HTTPClientError)):
        return "S3"
    return None
