"""The Redis client.

Timeouts are short so a stopped Redis makes a request slower, never stuck; the pool
reconnects on the next command, so a Redis that comes back is used without a restart.
"""

from __future__ import annotations

import redis

from bi_agent.settings import Settings


def create_redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_address(),
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )
