"""How the Celery app is built; `bi_agent.worker.app` builds the one the processes run.

Redis is broker and result backend; beat keeps its schedule in Redis with RedBeat,
whose lock lets one beat run at a time.
"""

from __future__ import annotations

from celery import Celery
from kombu.entity import Exchange, Queue

from bi_agent.settings import Settings

QUEUES = ("analytics", "ml", "data")
# Longer than the longest task, so Redis does not hand a running task to a second worker.
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600
REDBEAT_KEY_PREFIX = "bi-agent:redbeat:"
# RedBeat holds this key while a beat runs and lets it expire when the beat dies.
BEAT_LOCK_KEY = f"{REDBEAT_KEY_PREFIX}:lock"
# When beat last ticked; it ticks at least every beat_max_loop_interval (30 s).
BEAT_TICK_KEY = "bi-agent:beat:last-tick"
BEAT_TICK_TTL_SECONDS = 24 * 3600
BEAT_STALE_AFTER_SECONDS = 90


def _queue(name: str) -> Queue:
    # One direct exchange per queue, so routing by queue name is all a task needs.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def create_celery(settings: Settings) -> Celery:
    redis_address = settings.redis_address()
    celery = Celery("bi_agent", broker=redis_address, backend=redis_address, include=["bi_agent.worker.tasks"])
    celery.conf.update(
        task_queues=[_queue(name) for name in QUEUES],
        task_default_queue="analytics",
        task_default_exchange="analytics",
        task_default_routing_key="analytics",
        task_routes={
            "import_data": {"queue": "data"},
            "refresh_analytics_views": {"queue": "analytics"},
            "calculate_kpis": {"queue": "analytics"},
            "update_ml_models": {"queue": "ml"},
            "process_data": {"queue": "data"},
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.celery_worker_concurrency,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        result_expires=7 * 24 * 3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        beat_scheduler="bi_agent.worker.beat:HeartbeatScheduler",
        redbeat_redis_url=redis_address,
        redbeat_key_prefix=REDBEAT_KEY_PREFIX,
        # Beat wakes at least this often, which bounds how stale a schedule change can be.
        beat_max_loop_interval=30,
        redbeat_lock_timeout=150,
        redbeat_redis_options={"health_check_interval": 30},
    )
    return celery
