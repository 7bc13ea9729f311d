"""The connections a service holds: PostgreSQL, Redis, S3 and the Celery queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from celery import Celery
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine

from bi_agent.infra.cache import create_async_redis_client, create_redis_client
from bi_agent.infra.db import create_database_engine
from bi_agent.infra.objects import create_s3_client
from bi_agent.settings import Settings
from bi_agent.task_queue import create_celery

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Connections:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    # Connects on first use, on the loop that uses it: only HTTP services do.
    redis_async: AsyncRedis
    s3: S3Client
    celery: Celery

    @classmethod
    def open(cls, settings: Settings) -> Connections:
        # Nothing connects yet: each client connects on first use, so a service
        # starts (and reports itself degraded) even while a dependency is down.
        return cls(
            settings=settings,
            engine=create_database_engine(settings),
            redis=create_redis_client(settings),
            redis_async=create_async_redis_client(settings),
            s3=create_s3_client(settings),
            celery=create_celery(settings),
        )

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
        self.s3.close()

    async def aclose(self) -> None:
        """close(), and the asynchronous Redis client's connections of the current loop."""
        self.close()
        await self.redis_async.aclose()
