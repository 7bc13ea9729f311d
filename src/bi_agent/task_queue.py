"""How the Celery app is built: one app for the processes that send tasks and read their state
(the API, the CLI, the health checks) and for those that run them (`bi_agent.worker.app`).

Here, outside `worker/` and `infra/`, so `infra/` needs nothing from the worker: the worker's
modules are named, not imported, and Celery loads them only in the processes that run tasks.

Redis is broker and result backend; beat keeps its schedule in Redis with RedBeat,
whose lock lets one beat run at a time.
"""

from __future__ import annotations

from celery import Celery
from kombu.entity import Exchange, Queue
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from bi_agent.settings import Settings

QUEUES = ("analytics", "ml", "data")
# Longer than the longest task, so Redis does not hand a running task to a second worker.
# A killed worker's tasks need not wait for it: the next worker to start takes them back
# (recovery.py).
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600
# Waits from 10 ms, doubling up to 10 s, each drawn at random below its bound: two to three
# minutes in all on average.
RESULT_WRITE_RETRIES = 40
REDBEAT_KEY_PREFIX = "bi-agent:redbeat:"
# RedBeat holds this key while a beat runs and lets it expire when the beat dies.
BEAT_LOCK_KEY = f"{REDBEAT_KEY_PREFIX}:lock"
# The lock outlives this many beat intervals: a beat extends it every tick, and a standby
# beat, which tries to take it once an interval, takes over within one more.
BEAT_LOCK_INTERVALS = 5
# Every command of beat's Redis client that times out or finds its connection lost is sent
# again, from 0.1 s apart up to 2 s, until Redis answers: beat has nothing to do without it.
# RedBeat's own retry (retry_period) covers only the client's direct commands, not the
# pipelines and lock scripts of each tick, and a client made from a URL retries nothing: a
# Redis that did not answer within its socket timeout (5 s) made beat exit. A beat that waits
# longer than its lock lives learns at its next tick that it lost the lock (LockNotOwnedError),
# exits, and is started again, to wait for the lock like a standby.
BEAT_REDIS_RETRY = Retry(ExponentialWithJitterBackoff(base=0.1, cap=2.0), retries=-1)
# When beat last ticked; it ticks at least once an interval (CELERY_BEAT_INTERVAL_SECONDS).
BEAT_TICK_KEY = "bi-agent:beat:last-tick"
BEAT_TICK_TTL_SECONDS = 24 * 3600
BEAT_STALE_AFTER_INTERVALS = 3


def beat_stale_after_seconds(settings: Settings) -> int:
    """A beat whose last tick is older than this has stopped ticking."""
    return BEAT_STALE_AFTER_INTERVALS * settings.celery_beat_interval_seconds


def _queue(name: str) -> Queue:
    # One direct exchange per queue, so routing by queue name is all a task needs.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def create_celery(settings: Settings, *, runs_tasks: bool = False) -> Celery:
    """The Celery app; `runs_tasks` for the worker and beat processes, not for those that only
    send tasks and read their state (the API, the CLI)."""
    redis_address = settings.redis_address()
    celery = Celery(
        "bi_agent",
        broker=redis_address,
        backend=redis_address,
        include=["bi_agent.worker.tasks"],
        # Outages retried, and failures and retries without the values they failed on (task_base.py).
        task_cls="bi_agent.worker.task_base:PlatformTask",
    )
    # kombu's Redis transport, mended to survive a Redis outage during a task (see broker.py).
    celery.conf.broker_transport = "bi_agent.worker.broker:Transport"
    celery.conf.update(
        task_queues=[_queue(name) for name in QUEUES],
        task_default_queue="analytics",
        task_default_exchange="analytics",
        task_default_routing_key="analytics",
        task_routes={
            "import_data": {"queue": "data"},
            "refresh_analytics_views": {"queue": "analytics"},
            "calculate_kpis": {"queue": "analytics"},
            "train_model": {"queue": "ml"},
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
        # Off (Celery's default) on purpose: extended results copy each task's arguments, which
        # hold file names and user ids, into Redis next to its result.
        result_extended=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        beat_scheduler="bi_agent.worker.beat:HeartbeatScheduler",
        redbeat_redis_url=redis_address,
        redbeat_key_prefix=REDBEAT_KEY_PREFIX,
        # Beat wakes at least this often, which bounds how stale a schedule change can be.
        beat_max_loop_interval=settings.celery_beat_interval_seconds,
        redbeat_lock_timeout=BEAT_LOCK_INTERVALS * settings.celery_beat_interval_seconds,
        redbeat_redis_options={"health_check_interval": 30},
    )
    if runs_tasks:
        # A task's progress and result wait out a Redis restart (RESULT_WRITE_RETRIES) rather
        # than fail the task that writes them, and beat waits Redis out (BEAT_REDIS_RETRY).
        # Readers keep the defaults and answer at once while Redis is down.
        celery.conf.update(
            result_backend_always_retry=True,
            result_backend_max_retries=RESULT_WRITE_RETRIES,
            redbeat_redis_options={"health_check_interval": 30, "retry": BEAT_REDIS_RETRY},
        )
    return celery
