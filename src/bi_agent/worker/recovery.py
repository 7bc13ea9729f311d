"""Messages a dead worker held: put back on their queues when a worker starts.

With `acks_late`, a task's message stays in Redis until its task ends: kombu moves it from
the queue into the hash `unacked` when a worker takes it, and deletes it there on the ack. A
worker that stops cleanly puts back what it holds. One that is killed outright (SIGKILL,
the OOM killer, a lost host) cannot, and kombu hands such a message out again only once it
has waited the visibility timeout, which must outlast the longest task (hours): until then
the job stays in PROGRESS. Killing only a pool process is another matter: the worker sees it
and requeues the message at once (`reject_on_worker_lost`).

So a starting worker, before it takes any task, asks the live workers which of the held
messages are theirs (`query_task` knows what a worker runs, has reserved, or keeps for a
countdown) and puts the others back at the head of their queues. A live worker that fails
to answer in time gets its task run a second time; the tasks are idempotent (an import is
recorded once per SHA-256, under the dataset's lock), so that costs work, never data.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from celery import Celery
from redis.exceptions import LockError

logger = logging.getLogger(__name__)

# How long live workers get to say which messages they hold; a prefork worker's main process
# answers within milliseconds even while its pool is busy.
QUERY_TIMEOUT_SECONDS = 2.0
# How long to wait for kombu's own restorer (another worker's periodic sweep) to finish.
MUTEX_WAIT_SECONDS = 10.0


def restore_orphans(app: Celery) -> list[str]:
    """Put back every held message no live worker claims; return the ids of their tasks."""
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        if not hasattr(channel, "unacked_key"):
            return []  # not the Redis transport: its broker redelivers by itself
        client = channel.client
        held: dict[bytes, str] = {}
        for tag, payload in client.hgetall(channel.unacked_key).items():
            task_id = _task_id(payload)
            if task_id is not None:
                held[tag] = task_id
        if not held:
            return []
        replies = app.control.inspect(timeout=QUERY_TIMEOUT_SECONDS).query_task(*set(held.values())) or {}
        claimed = {task_id for reply in replies.values() for task_id in reply}
        orphans = {tag: task_id for tag, task_id in held.items() if task_id not in claimed}
        if not orphans:
            return []
        # The lock kombu's own sweep (restore_visible) takes, so a message is put back once.
        mutex = client.lock(channel.unacked_mutex_key, timeout=channel.unacked_mutex_expire)
        if not mutex.acquire(blocking_timeout=MUTEX_WAIT_SECONDS):
            logger.warning("another worker is putting back held messages; leaving %d to it", len(orphans))
            return []
        try:
            for tag, task_id in orphans.items():
                # Reads the message again inside a transaction: one acknowledged meanwhile stays gone.
                channel.qos.restore_by_tag(tag, client)
                logger.warning("task %s was held by a worker that is gone; it is queued again", task_id)
        finally:
            # Past its expiry (minutes) the lock may be gone already; there is nothing to undo.
            with contextlib.suppress(LockError):
                mutex.release()
    return list(orphans.values())


def _task_id(payload: bytes | str) -> str | None:
    # kombu keeps [message, exchange, routing key]; Celery's message names its task in a header.
    try:
        message = json.loads(payload)[0]
        task_id = message["headers"].get("id") or message["properties"].get("correlation_id")
    except (ValueError, LookupError, TypeError, AttributeError):
        return None
    return str(task_id) if task_id else None
