"""Health checks of PostgreSQL, Redis and S3, with their latency.

Checks run side by side with short timeouts, so a dead dependency costs a health
request about two seconds, not the sum of every timeout. Errors are reduced to one
line without addresses' passwords.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import redis
from sqlalchemy import Engine, text

from bi_agent.infra.connections import Connections
from bi_agent.infra.db import first_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class CheckResult:
    status: Literal["ok", "fail"]
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {"status": self.status, "latency_ms": self.latency_ms}
        if self.error is not None:
            result["error"] = self.error
        return result


def _timed(check: Callable[[], object]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:
        return CheckResult("fail", _elapsed_ms(started), f"{type(error).__name__}: {first_line(error)}")
    return CheckResult("ok", _elapsed_ms(started))


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
    with ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health") as pool:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        return {name: future.result() for name, future in futures.items()}
