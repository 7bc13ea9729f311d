"""Is each part of the platform up? The data stores, both HTTP services, the worker and beat.

`bi-agent health` prints this; it asks every part at once with short timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bi_agent.errors import BIAgentError
from bi_agent.infra import probes
from bi_agent.infra.connections import Connections
from bi_agent.infra.db import first_line
from bi_agent.settings import Settings
from bi_agent.worker.factory import BEAT_LOCK_KEY, BEAT_TICK_KEY, beat_stale_after_seconds, create_celery


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
            response = httpx.get(url, timeout=5.0)
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
    try:
        connections = Connections.open(settings)
    except BIAgentError as error:
        return [ServiceStatus("platform", False, 0.0, str(error))]
    try:
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="status") as pool:
            stores = pool.submit(probes.run_checks, connections)
            api = pool.submit(
                _http_service(
                    "analytics-api",
                    f"http://{settings.analytics_api_host}:{settings.analytics_api_port}/health",
                )
            )
            ml = pool.submit(
                _http_service("ml-service", f"http://{settings.ml_service_host}:{settings.ml_service_port}/health")
            )
            worker = pool.submit(_check_worker, settings)
            beat = pool.submit(_check_beat, connections)
            statuses = [
                ServiceStatus(name, result.status == "ok", result.latency_ms, result.error or "answers")
                for name, result in stores.result().items()
            ]
            statuses += [api.result(), ml.result(), worker.result(), beat.result()]
    finally:
        connections.close()
    return statuses


def _check_worker(settings: Settings) -> ServiceStatus:
    started = time.perf_counter()
    try:
        replies = create_celery(settings).control.ping(timeout=1.5)
    except Exception as error:
        return ServiceStatus("celery-worker", False, _ms(started), first_line(error))
    if not replies:
        return ServiceStatus("celery-worker", False, _ms(started), "no worker answered a ping")
    names = ", ".join(sorted(name for reply in replies for name in reply))
    return ServiceStatus("celery-worker", True, _ms(started), names)


def _check_beat(connections: Connections) -> ServiceStatus:
    started = time.perf_counter()
    try:
        ttl = int(connections.redis.ttl(BEAT_LOCK_KEY))
        last_tick = connections.redis.get(BEAT_TICK_KEY)
    except Exception as error:
        return ServiceStatus("celery-beat", False, _ms(started), first_line(error))
    if ttl < 0:
        return ServiceStatus("celery-beat", False, _ms(started), "no beat holds the schedule lock")
    if not isinstance(last_tick, bytes):
        return ServiceStatus("celery-beat", False, _ms(started), "holds the lock but has not ticked yet")
    ticked = datetime.fromisoformat(last_tick.decode())
    age = (datetime.now(UTC) - ticked).total_seconds()
    detail = f"last tick {ticked:%Y-%m-%d %H:%M:%S} UTC ({age:.0f} s ago)"
    fresh = age <= beat_stale_after_seconds(connections.settings)
    return ServiceStatus("celery-beat", fresh, _ms(started), detail)
