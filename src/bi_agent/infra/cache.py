"""The Redis client.

Timeouts are short so a stopped Redis makes a request slower, never stuck; the pool
reconnects on the next command, so a Redis that comes back is used without a restart.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from bi_agent.settings import Settings


def _client_options() -> dict[str, Any]:
    return {"socket_connect_timeout": 2, "socket_timeout": 2, "health_check_interval": 30}


def create_redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_address(), **_client_options())


def create_async_redis_client(settings: Settings) -> redis.asyncio.Redis:
    """For the few reads on an event loop (a cached query's hit), which must not block it."""
    return redis.asyncio.Redis.from_url(settings.redis_address(), **_client_options())
