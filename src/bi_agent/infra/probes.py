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
from typing import Literal

from sqlalchemy import text

from bi_agent.infra.connections import Connections
from bi_agent.infra.db import first_line


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


def check_postgres(connections: Connections) -> CheckResult:
    def query() -> None:
        with connections.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return _timed(query)


def check_redis(connections: Connections) -> CheckResult:
    return _timed(connections.redis.ping)


def check_s3(connections: Connections) -> CheckResult:
    bucket = connections.settings.minio_bucket_models
    return _timed(lambda: connections.s3.head_bucket(Bucket=bucket))


CHECKS: dict[str, Callable[[Connections], CheckResult]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "s3": check_s3,
}


def run_checks(connections: Connections) -> dict[str, CheckResult]:
    with ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health") as pool:
        futures = {name: pool.submit(check, connections) for name, check in CHECKS.items()}
        return {name: future.result() for name, future in futures.items()}
