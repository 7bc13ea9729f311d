"""The login throttle's waits: they grow with each failure of one client for one account, up to
the cap, and hold nobody else up. Straight against Redis, so no test sleeps through a wait."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
import redis

from bi_agent.errors import TooManyRequestsError
from bi_agent.security.throttle import LoginThrottle, client_key


@pytest.fixture
def throttle(redis_url: str) -> Iterator[LoginThrottle]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield LoginThrottle(
            client,
            failures_before_delay=2,
            failures_per_client=100,
            failures_per_account=100,
            delay_seconds=10,
            max_delay_seconds=35,
            memory_seconds=60,
        )
    finally:
        client.close()


def wait_of(throttle: LoginThrottle, username: str, client_address: str) -> int:
    try:
        throttle.check(username, client_address)
    except TooManyRequestsError as error:
        return error.retry_after_seconds
    return 0


def test_waits_grow_per_account_and_client_up_to_the_cap(throttle: LoginThrottle) -> None:
    # Unique per test: counts in the shared Redis outlive it.
    username = f"someone-{uuid.uuid4().hex[:8]}"
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.7"
    waits = []
    for _ in range(5):
        throttle.record_failure(username, address)
        waits.append(wait_of(throttle, username, address))
    assert waits == [0, 10, 20, 35, 35]
    assert wait_of(throttle, username, "192.0.2.1") == 0
    assert wait_of(throttle, f"other-{username}", address) == 0
    throttle.record_success(username, address)
    assert wait_of(throttle, username, address) == 0


def test_an_ipv6_client_counts_by_its_64_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_key("203.0.113.9") == "203.0.113.9"
