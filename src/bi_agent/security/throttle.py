"""The limit on failed logins, counted in Redis per username and per client address.

A fixed window: the first failure starts it, and once a username (or a client
address) has used up its failures, every login for it is refused until the window
ends, even one with the right password, so guessing gains nothing. Unknown
usernames are counted like known ones, so the limit reveals no user.

Without Redis the limit is off rather than logins: the throttle fails open and
says so once in the log per outage.
"""

from __future__ import annotations

import logging

import redis

from bi_agent.errors import TooManyRequestsError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 300
FAILURES_PER_USERNAME = 5
# Higher than per username: several people behind one NAT address mistype too.
FAILURES_PER_CLIENT = 20

_KEY_PREFIX = "bi:login-failures"


class LoginThrottle:
    """One per service process, so a Redis outage is logged once, not on every login."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        window_seconds: int = WINDOW_SECONDS,
        failures_per_username: int = FAILURES_PER_USERNAME,
        failures_per_client: int = FAILURES_PER_CLIENT,
    ) -> None:
        self._client = client
        self._window_seconds = window_seconds
        self._failures_per_username = failures_per_username
        self._failures_per_client = failures_per_client
        self._redis_down = False

    def check(self, username: str, client_address: str) -> None:
        """TooManyRequestsError while the username or the client address has no failures left."""
        limits = self._limits(username, client_address)
        try:
            counts = self._client.mget([key for key, _ in limits])
            blocked = [
                key
                for (key, limit), count in zip(limits, counts, strict=True)
                if count is not None and int(count) >= limit
            ]
            seconds_left = [int(self._client.ttl(key)) for key in blocked]
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()
        if blocked:
            # TTL is -2 when the window ended between the two calls: the next try may go ahead.
            retry_after = max(1, *seconds_left)
            raise TooManyRequestsError(
                f"too many failed logins; try again in {retry_after} seconds", retry_after_seconds=retry_after
            )

    def record_failure(self, username: str, client_address: str) -> None:
        limits = self._limits(username, client_address)
        try:
            with self._client.pipeline(transaction=True) as pipeline:
                for key, _ in limits:
                    pipeline.incr(key)
                    # NX (Redis 7): the first failure starts the window, later ones do not stretch it.
                    pipeline.expire(key, self._window_seconds, nx=True)
                replies = pipeline.execute()
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()
        counts = replies[0::2]
        if any(count == limit for (_, limit), count in zip(limits, counts, strict=True)):
            # Once per window, not on every refused try: an attack must not flood the log.
            logger.warning(
                "failed logins from client %s used up a limit; further tries are refused for up to %d seconds",
                client_address,
                self._window_seconds,
            )

    def record_success(self, username: str) -> None:
        """Forget the username's failures. The client address keeps its count: one good
        password must not buy a client another round of guesses at other usernames."""
        try:
            self._client.delete(self._username_key(username))
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()

    def _limits(self, username: str, client_address: str) -> list[tuple[str, int]]:
        return [
            (self._username_key(username), self._failures_per_username),
            (f"{_KEY_PREFIX}:client:{client_address}", self._failures_per_client),
        ]

    def _username_key(self, username: str) -> str:
        return f"{_KEY_PREFIX}:username:{username}"

    def _redis_failed(self, error: redis.RedisError) -> None:
        if not self._redis_down:
            self._redis_down = True
            logger.warning("Redis is unreachable (%s); failed logins are not limited until it answers again", error)

    def _redis_answered(self) -> None:
        if self._redis_down:
            self._redis_down = False
            logger.info("Redis answers again; failed logins are limited again")
