"""Is each part of the platform up? The data stores, both HTTP services, the worker and beat.

`bi-agent health` prints this; it asks every part at once with short timeouts (about two
seconds each), and a part that has not answered by the deadline is down, the others still
reported: a frozen Redis must not hold up the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import httpx

from bi_agent.errors import BIAgentError
from bi_agent.infra import probes
from bi_agent.infra.cache import create_redis_client
from bi_agent.infra.db import create_database_engine, first_line
from bi_agent.infra.objects import create_s3_client
from bi_agent.settings import Settings
from bi_agent.task_queue import BEAT_LOCK_KEY, BEAT_TICK_KEY, beat_stale_after_seconds, create_celery

# Every client's connect and read timeout. An HTTP service's /health waits up to
# probes.CHECK_DEADLINE_SECONDS on its own stores, so its read timeout is longer: a 503
# naming the failing store says more than a timeout. Past DEADLINE_SECONDS a part is down.
TIMEOUT_SECONDS = 2
HTTP_TIMEOUT = httpx.Timeout(probes.CHECK_DEADLINE_SECONDS + 1.5, connect=TIMEOUT_SECONDS)
DEADLINE_SECONDS = probes.CHECK_DEADLINE_SECONDS + 2.5


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ok: bool
    latency_ms: float
    detail: str


def _http_service(name: str, url: str) -> Callable[[], ServiceStatus]:
    def check() -> ServiceStatus:
        started = time.perf_counter()
        try:
            response = httpx.get(url, timeout=HTTP_TIMEOUT)
        except httpx.HTTPError as error:
            return ServiceStatus(name, False, _ms(started), f"{url}: {type(error).__name__} {error}")
        if response.status_code == 200:
            return ServiceStatus(name, True, _ms(started), url)
        try:
            failing = [str(dependency) for dependency in response.json().get("failing", [])]
        except (ValueError, AttributeError):
            failing = []
        detail = f"{url}: HTTP {response.status_code}" + (f", failing: {', '.join(failing)}" if failing else "")
        return ServiceStatus(name, False, _ms(started), detail)

    return check


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_services(settings: Settings) -> list[ServiceStatus]:
    api = f"http://{settings.analytics_api_host}:{settings.analytics_api_port}/health"
    ml = f"http://{settings.ml_service_host}:{settings.ml_service_port}/health"
    checks: dict[str, Callable[[], ServiceStatus]] = {
        "postgres": partial(_store, "postgres", _check_postgres, settings),
        "redis": partial(_store, "redis", _check_redis, settings),
        "s3": partial(_store, "s3", _check_s3, settings),
        "analytics-api": _http_service("analytics-api", api),
        "ml-service": _http_service("ml-service", ml),
        "celery-worker": partial(_check_worker, settings),
        "celery-beat": partial(_check_beat, settings),
    }
    return list(
        probes.side_by_side(
            checks,
            DEADLINE_SECONDS,
            lambda name, seconds, reason: ServiceStatus(name, False, round(seconds * 1000, 1), reason),
        ).values()
    )


def _store(name: str, check: Callable[[Settings], probes.CheckResult], settings: Settings) -> ServiceStatus:
    # Each store's client is made on its own: one without an address (its embedded server
    # not running, its variable unset) is that store's failure, not every service's.
    try:
        result = check(settings)
    except BIAgentError as error:
        return ServiceStatus(name, False, 0.0, str(error))
    return ServiceStatus(name, result.status == "ok", result.latency_ms, result.error or "answers")


def _check_postgres(settings: Settings) -> probes.CheckResult:
    timeout = min(settings.db_connect_timeout_seconds, TIMEOUT_SECONDS)
    engine = create_database_engine(settings.model_copy(update={"db_connect_timeout_seconds": timeout}))
    try:
        return probes.check_postgres(engine)
    finally:
        engine.dispose()


def _check_redis(settings: Settings) -> probes.CheckResult:
    client = create_redis_client(settings)
    try:
        return probes.check_redis(client)
    finally:
        client.close()


def _check_s3(settings: Settings) -> probes.CheckResult:
    client = create_s3_client(settings, timeout_seconds=TIMEOUT_SECONDS)
    try:
        return probes.check_s3(client, settings.minio_bucket_models)
    finally:
        client.close()


def _check_worker(settings: Settings) -> ServiceStatus:
    started = time.perf_counter()
    app = create_celery(settings)
    # The broker's client otherwise waits for ever on a Redis that accepts and never answers.
    options = {"socket_connect_timeout": TIMEOUT_SECONDS, "socket_timeout": TIMEOUT_SECONDS, "max_retries": 0}
    try:
        with app.connection_for_write(connect_timeout=TIMEOUT_SECONDS, transport_options=options) as connection:
            replies = app.control.ping(timeout=1.5, connection=connection)
    except Exception as error:
        return ServiceStatus("celery-worker", False, _ms(started), first_line(error))
    if not replies:
        return ServiceStatus("celery-worker", False, _ms(started), "no worker answered a ping")
    names = ", ".join(sorted(name for reply in replies for name in reply))
    return ServiceStatus("celery-worker", True, _ms(started), names)


def _check_beat(settings: Settings) -> ServiceStatus:
    started = time.perf_counter()
    try:
        client = create_redis_client(settings)
        try:
            ttl = int(client.ttl(BEAT_LOCK_KEY))
            last_tick = client.get(BEAT_TICK_KEY)
        finally:
            client.close()
    except Exception as error:
        return ServiceStatus("celery-beat", False, _ms(started), first_line(error))
    if ttl < 0:
        return ServiceStatus("celery-beat", False, _ms(started), "no beat holds the schedule lock")
    if not isinstance(last_tick, bytes):
        return ServiceStatus("celery-beat", False, _ms(started), "holds the lock but has not ticked yet")
    ticked = datetime.fromisoformat(last_tick.decode())
    age = (datetime.now(UTC) - ticked).total_seconds()
    detail = f"last tick {ticked:%Y-%m-%d %H:%M:%S} UTC ({age:.0f} s ago)"
    fresh = age <= beat_stale_after_seconds(settings)
    return ServiceStatus("celery-beat", fresh, _ms(started), detail)
