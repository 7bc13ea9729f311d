"""The limit on failed logins, counted in Redis per account and client, per client, and per account.

- **Account and client.** After `failures_before_delay` failed logins for one username
  from one client address, that client waits before its next try for that username:
  `delay_seconds`, then twice as long after each further failure, up to
  `max_delay_seconds`. The wait holds for the right password too, so guessing on gains
  nothing; a success from that client forgets its failures for that username.
- **Client, across accounts.** After `failures_per_client` failed logins from one client
  address, whatever the usernames, the same growing wait holds for every login from it:
  trying many usernames from one place is limited as well.
- **Account, across clients.** A username failed `failures_per_account` times from
  anywhere is under attack: then a client waits after its first failure for it. A
  client that has not failed for the username is never refused on its account, so
  nobody can lock someone else out of their account by failing on purpose.

A count is forgotten `memory_seconds` after its last failure. An IPv6 client counts by
its /64 network, which one host is usually given whole. Unknown usernames are counted
like known ones, so the limit reveals no user.

Without Redis the limit is off rather than logins: the throttle fails open and says
so once in the log per outage.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

import redis

from bi_agent.errors import TooManyRequestsError
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

_KEY_PREFIX = "bi:login"


@dataclass(frozen=True)
class _Keys:
    pair_failures: str
    pair_wait: str
    client_failures: str
    client_wait: str
    account_failures: str


class LoginThrottle:
    """One per service process, so a Redis outage is logged once, not on every login."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        failures_before_delay: int,
        failures_per_client: int,
        failures_per_account: int,
        delay_seconds: int,
        max_delay_seconds: int,
        memory_seconds: int,
    ) -> None:
        self._client = client
        self._failures_before_delay = failures_before_delay
        self._failures_per_client = failures_per_client
        self._failures_per_account = failures_per_account
        self._delay_seconds = delay_seconds
        self._max_delay_seconds = max(max_delay_seconds, delay_seconds)
        # Long enough that a count outlives the longest wait it causes.
        self._memory_seconds = max(memory_seconds, self._max_delay_seconds)
        self._redis_down = False

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> LoginThrottle:
        """The throttle with the LOGIN_* settings."""
        return cls(
            client,
            failures_before_delay=settings.login_failures_before_delay,
            failures_per_client=settings.login_failures_per_client,
            failures_per_account=settings.login_failures_per_account,
            delay_seconds=settings.login_delay_seconds,
            max_delay_seconds=settings.login_max_delay_seconds,
            memory_seconds=settings.login_failure_memory_seconds,
        )

    def check(self, username: str, client_address: str) -> None:
        """TooManyRequestsError while this client waits, for this username or for every one."""
        keys = _keys(username, client_address)
        try:
            with self._client.pipeline(transaction=False) as pipeline:
                pipeline.pttl(keys.pair_wait)
                pipeline.pttl(keys.client_wait)
                milliseconds_left = pipeline.execute()
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()
        # PTTL is negative for a key that is not there: no wait.
        longest = max(milliseconds_left)
        if longest > 0:
            retry_after = -(-longest // 1000)
            raise TooManyRequestsError(
                f"too many failed logins; try again in {retry_after} seconds", retry_after_seconds=retry_after
            )

    def record_failure(self, username: str, client_address: str) -> None:
        keys = _keys(username, client_address)
        try:
            with self._client.pipeline(transaction=True) as pipeline:
                for key in (keys.pair_failures, keys.client_failures, keys.account_failures):
                    pipeline.incr(key)
                    pipeline.expire(key, self._memory_seconds)
                pair, client, account = pipeline.execute()[0::2]
            under_attack = account >= self._failures_per_account
            pair_wait = self._wait(pair, 1 if under_attack else self._failures_before_delay)
            client_wait = self._wait(client, self._failures_per_client)
            with self._client.pipeline(transaction=True) as pipeline:
                if pair_wait:
                    pipeline.set(keys.pair_wait, 1, ex=pair_wait)
                if client_wait:
                    pipeline.set(keys.client_wait, 1, ex=client_wait)
                pipeline.execute()
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()
        # Once per stage, not on every failure: an attack must not flood the log.
        if client == self._failures_per_client:
            logger.warning(
                "client %s failed %d logins; its logins now wait, longer after each failure",
                client_address,
                client,
            )
        if account == self._failures_per_account:
            logger.warning(
                "a username failed %d logins from any client; each client now waits after its first failure for it",
                account,
            )

    def record_success(self, username: str, client_address: str) -> None:
        """Forget this client's failures for the username. Its failures across usernames stay:
        one good password must not buy a client another round of guesses at other usernames."""
        keys = _keys(username, client_address)
        try:
            self._client.delete(keys.pair_failures, keys.pair_wait)
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()

    def _wait(self, failures: int, threshold: int) -> int:
        """Seconds to wait after `failures`, 0 below the threshold, doubling from there."""
        if failures < threshold:
            return 0
        doublings = min(failures - threshold, 30)
        return min(self._delay_seconds << doublings, self._max_delay_seconds)

    def _redis_failed(self, error: redis.RedisError) -> None:
        if not self._redis_down:
            self._redis_down = True
            logger.warning("Redis is unreachable (%s); failed logins are not limited until it answers again", error)

    def _redis_answered(self) -> None:
        if self._redis_down:
            self._redis_down = False
            logger.info("Redis answers again; failed logins are limited again")


def client_key(client_address: str) -> str:
    """The address a client is counted by: IPv4 as it is, IPv6 by its /64 network."""
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return client_address
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _keys(username: str, client_address: str) -> _Keys:
    client = client_key(client_address)
    return _Keys(
        pair_failures=f"{_KEY_PREFIX}:pair-failures:{client}:{username}",
        pair_wait=f"{_KEY_PREFIX}:pair-wait:{client}:{username}",
        client_failures=f"{_KEY_PREFIX}:client-failures:{client}",
        client_wait=f"{_KEY_PREFIX}:client-wait:{client}",
        account_failures=f"{_KEY_PREFIX}:account-failures:{username}",
    )
