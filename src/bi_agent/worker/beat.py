"""The beat scheduler: RedBeat, plus a heartbeat that says when beat last ticked.

`bi-agent health` reads the heartbeat in Redis, the compose healthcheck the file
CELERY_BEAT_HEARTBEAT_FILE (its own container's beat, without a Redis client): a beat
that holds its lock but no longer ticks is stuck, and only the tick time shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redbeat.schedulers import RedBeatScheduler, get_redis

from bi_agent.settings import get_settings
from bi_agent.task_queue import BEAT_TICK_KEY, BEAT_TICK_TTL_SECONDS


class HeartbeatScheduler(RedBeatScheduler):  # type: ignore[misc]
    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = float(super().tick(*args, **kwargs))
        get_redis(self.app).set(BEAT_TICK_KEY, datetime.now(UTC).isoformat(), ex=BEAT_TICK_TTL_SECONDS)
        heartbeat = get_settings().celery_beat_heartbeat_file
        if heartbeat is not None:
            heartbeat.touch()
        return interval
