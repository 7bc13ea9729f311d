"""The query cache in Redis.

A key is made of the canonical query, the dataset's data_version, the versions of the
metrics' definitions and the caller's access scope: an import or a changed metric
makes older answers unreachable (they expire), and two callers who may see different
things never share an entry.
Redis down means slower, never wrong or failing: errors count as misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis

from bi_agent.infra.telemetry import QUERY_CACHE
from bi_agent.security.permissions import Permission, Principal

logger = logging.getLogger(__name__)

PREFIX = "bi-agent:query:"
TTL_SECONDS = 24 * 3600


def access_scope(principal: Principal) -> str:
    """What decides what a caller may see: their roles and whether they read PHI."""
    return json.dumps({"roles": sorted(principal.roles), "phi": principal.has(Permission.PHI_READ)}, sort_keys=True)


def cache_key(canonical_query: str, dataset: str, data_version: int, definitions: list[str], scope: str) -> str:
    material = json.dumps([canonical_query, dataset, data_version, definitions, scope])
    return PREFIX + hashlib.sha256(material.encode()).hexdigest()


class QueryCache:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self.client.get(key)
        except redis.RedisError as error:
            QUERY_CACHE.labels("error").inc()
            logger.warning("query cache unreachable, answering from PostgreSQL: %s", type(error).__name__)
            return None
        if raw is None:
            QUERY_CACHE.labels("miss").inc()
            return None
        QUERY_CACHE.labels("hit").inc()
        value: dict[str, Any] = json.loads(raw)
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self.client.set(key, json.dumps(value, separators=(",", ":")), ex=TTL_SECONDS)
        except redis.RedisError as error:
            QUERY_CACHE.labels("error").inc()
            logger.warning("query cache unreachable, answer not stored: %s", type(error).__name__)
