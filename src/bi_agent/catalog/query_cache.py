"""The query cache in Redis.

A key is made of the canonical query, the dataset's data_version, the versions of the
metrics' definitions and the caller's access scope: an import or a changed metric
makes older answers unreachable (they expire), and two callers who may see different
things never share an entry.
Redis down means slower, never wrong or failing: errors count as misses.
Every entry in Redis is sealed with an HMAC of its key, its expiry and its bytes under a
key only the platform has (derived from its JWT secret): an entry that someone with access
to Redis wrote, moved to another key or stored again past its time fails the check, is
never served, and counts as `rejected`.

In front of it, finished replies are kept by the exact request body, the caller's
scope and the catalog epoch (infra/catalog_epoch.py), which any change of data,
metrics or permissions moves: a repeated query is then answered from this process's
memory, or with one Redis read, and no PostgreSQL at all. A key that holds the epoch
never needs invalidating, only forgetting. Without a known epoch this layer stands aside.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import struct
import time
from collections import OrderedDict
from typing import Any

import redis
import redis.asyncio

from bi_agent.infra.telemetry import QUERY_CACHE

logger = logging.getLogger(__name__)

PREFIX = "bi-agent:query:"
REPLY_PREFIX = "bi-agent:query-reply:"
TTL_SECONDS = 24 * 3600
SEAL_BYTES = hashlib.sha256().digest_size
# The seal's expiry: seconds since the epoch, 8 bytes big-endian, after the MAC.
EXPIRY = struct.Struct(">Q")


def cache_key(canonical_query: str, dataset: str, data_version: int, definitions: list[str], scope: str) -> str:
    material = json.dumps([canonical_query, dataset, data_version, definitions, scope])
    return PREFIX + hashlib.sha256(material.encode()).hexdigest()


def reply_key(epoch: str, timezone: str, scope: str, body: bytes) -> str:
    """The key of a finished reply: the same bytes asked by the same scope in the same epoch."""
    digest = hashlib.sha256(json.dumps([epoch, timezone, scope]).encode())
    digest.update(b"\0")
    digest.update(body)
    return REPLY_PREFIX + digest.hexdigest()


class RecentReplies:
    """This process's latest finished replies by reply key, least recently used out first."""

    def __init__(self, budget_bytes: int = 32 * 1024 * 1024) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._replies: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        reply = self._replies.get(key)
        if reply is not None:
            self._replies.move_to_end(key)
        return reply

    def put(self, key: str, reply: bytes) -> None:
        # A reply this big is rare and would push out many small ones; Redis keeps it.
        if len(reply) > self.budget_bytes // 64 or key in self._replies:
            return
        self._replies[key] = reply
        self.used_bytes += len(reply)
        while self.used_bytes > self.budget_bytes:
            _, dropped = self._replies.popitem(last=False)
            self.used_bytes -= len(dropped)


class QueryCache:
    def __init__(
        self,
        client: redis.Redis,
        signing_key: bytes,
        async_client: redis.asyncio.Redis | None = None,
        recent: RecentReplies | None = None,
    ) -> None:
        self.client = client
        self.signing_key = signing_key
        self.async_client = async_client
        self.recent = recent

    def _seal(self, key: str, payload: bytes) -> bytes:
        expiry = EXPIRY.pack(int(time.time()) + TTL_SECONDS)
        return self._mac(key, expiry, payload) + expiry + payload

    def _unseal(self, key: str, stored: bytes) -> bytes | None:
        """The payload of an entry we wrote under `key` and whose time has not passed, or None
        (counted) for any other."""
        header = SEAL_BYTES + EXPIRY.size
        seal, expiry, payload = stored[:SEAL_BYTES], stored[SEAL_BYTES:header], stored[header:]
        sealed_here = len(expiry) == EXPIRY.size and hmac.compare_digest(seal, self._mac(key, expiry, payload))
        if sealed_here and EXPIRY.unpack(expiry)[0] >= time.time():
            return payload
        QUERY_CACHE.labels("rejected").inc()
        logger.warning("a query cache entry failed its integrity check or outlived its time; answering afresh")
        return None

    def _mac(self, key: str, expiry: bytes, payload: bytes) -> bytes:
        mac = hmac.new(self.signing_key, key.encode(), hashlib.sha256)
        mac.update(b"\0")
        mac.update(expiry)
        mac.update(payload)
        return mac.digest()

    async def get_reply(self, key: str) -> bytes | None:
        """A finished reply, or None. Only hits are counted here: a miss or an error
        falls through to `get`, which counts it."""
        reply = self.recent.get(key) if self.recent is not None else None
        if reply is None and self.async_client is not None:
            try:
                stored = await self.async_client.get(key)
            except redis.RedisError:
                return None
            if stored is None:
                return None
            reply = self._unseal(key, stored if isinstance(stored, bytes) else str(stored).encode())
            if reply is None:
                return None
            if self.recent is not None:
                self.recent.put(key, reply)
        if reply is not None:
            QUERY_CACHE.labels("hit").inc()
        return reply

    async def put_reply(self, key: str, reply: bytes) -> None:
        if self.recent is not None:
            self.recent.put(key, reply)
        if self.async_client is None:
            return
        try:
            await self.async_client.set(key, self._seal(key, reply), ex=TTL_SECONDS)
        except redis.RedisError as error:
            logger.warning("query cache unreachable, reply not stored: %s", type(error).__name__)

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
        payload = self._unseal(key, raw if isinstance(raw, bytes) else str(raw).encode())
        if payload is None:
            return None
        QUERY_CACHE.labels("hit").inc()
        value: dict[str, Any] = json.loads(payload)
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            payload = json.dumps(value, separators=(",", ":")).encode()
            self.client.set(key, self._seal(key, payload), ex=TTL_SECONDS)
        except redis.RedisError as error:
            QUERY_CACHE.labels("error").inc()
            logger.warning("query cache unreachable, answer not stored: %s", type(error).__name__)
