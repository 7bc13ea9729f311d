"""Health checks of PostgreSQL, Redis and S3, with their latency.

Checks run side by side with short timeouts, so a dead dependency costs a health
request about two seconds, not the sum of every timeout. A check still running at the
deadline (a server that accepts and never answers, a frozen process) is reported failed
then, whatever its client does. Errors are reduced to one line without addresses' passwords.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import redis
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, text

from bi_agent.infra.connections import Connections
from bi_agent.infra.db import first_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The clients' own timeouts are about two seconds; this is the last word on a check.
CHECK_DEADLINE_SECONDS = 2.5

T = TypeVar("T")


class CheckResult(BaseModel):
    """One dependency's answer: a health reply's entry."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "fail"]
    latency_ms: float
    error: str | None = Field(default=None, description="Why it failed: the error's class and first line")


def _timed(check: Callable[[], object]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:
        return CheckResult(
            status="fail", latency_ms=_elapsed_ms(started), error=f"{type(error).__name__}: {first_line(error)}"
        )
    return CheckResult(status="ok", latency_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_postgres(engine: Engine) -> CheckResult:
    def query() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return _timed(query)


def check_redis(client: redis.Redis) -> CheckResult:
    return _timed(client.ping)


def check_s3(client: S3Client, bucket: str) -> CheckResult:
    return _timed(lambda: client.head_bucket(Bucket=bucket))


def run_checks(connections: Connections) -> dict[str, CheckResult]:
    checks: dict[str, Callable[[], CheckResult]] = {
        "postgres": lambda: check_postgres(connections.engine),
        "redis": lambda: check_redis(connections.redis),
        "s3": lambda: check_s3(connections.s3, connections.settings.minio_bucket_models),
    }
    return side_by_side(
        checks,
        CHECK_DEADLINE_SECONDS,
        lambda _name, seconds, reason: CheckResult(status="fail", latency_ms=seconds * 1000, error=reason),
    )


def side_by_side(
    checks: dict[str, Callable[[], T]], deadline_seconds: float, failed: Callable[[str, float, str], T]
) -> dict[str, T]:
    """Each check's result, all run at once. One that raises, or is still running after
    `deadline_seconds`, is `failed(name, seconds, reason)`; a late one is left to finish on a
    daemon thread, which never holds up a reply or the process's exit."""
    results: dict[str, T] = {}

    def run(name: str, check: Callable[[], T]) -> None:
        started = time.perf_counter()
        try:
            results[name] = check()
        except Exception as error:
            results[name] = failed(name, time.perf_counter() - started, f"{type(error).__name__}: {first_line(error)}")

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"health-{name}", daemon=True)
        for name, check in checks.items()
    ]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + deadline_seconds
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
    late = f"no answer within {deadline_seconds:g} s"
    return {name: results[name] if name in results else failed(name, deadline_seconds, late) for name in checks}
