"""Sessions in HIPAA mode: short tokens, refreshed only while the user is active.

A session starts at login and is carried by the `sid` claim through every token
refreshed from it. Its last activity is the time of its last authenticated request
(not a refresh: a client refreshing in the background must not keep an idle session
alive). A refresh is granted only within HIPAA_IDLE_TIMEOUT_MINUTES of that activity,
and the new token never outlives activity plus the timeout, so an idle session ends
on time even with a token in hand.

Activity is kept without a database write per request: each process remembers the
time of each session's last request in memory and writes it to Redis (one key per
session, expiring with the idle timeout) at most once a minute, so other processes
see it too. The time may therefore lag up to a minute behind, which can only end a
session early. Without Redis, a refresh trusts what this process saw itself; when it
saw nothing of the session, the refresh is refused (log in again) rather than granted
on no evidence. Outside HIPAA mode nothing is tracked and a refresh needs only a valid
token.

In every mode a session ends at logout (`end_session`): its row in bi.ended_sessions
reaches every process with the caller's principal (migration 0015), and from then on
the session's tokens, refreshed ones included, are refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Connection, text

from bi_agent.errors import AuthenticationError
from bi_agent.security import audit
from bi_agent.security.permissions import Principal
from bi_agent.security.tokens import AccessToken, TokenClaims, access_token_lifetime, issue_access_token
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

WRITE_INTERVAL_SECONDS = 60.0
MAX_SESSIONS_IN_MEMORY = 10_000
_KEY_PREFIX = "bi:session-activity"


def activity_key(session_id: str) -> str:
    return f"{_KEY_PREFIX}:{session_id}"


class SessionActivity:
    """One per service process: the last activity of the sessions it served."""

    def __init__(self, client: AsyncRedis, idle_timeout_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._idle_timeout_seconds = idle_timeout_seconds
        self._clock = clock
        # session id -> [last request seen here, last write to Redis]
        self._seen: dict[str, list[float]] = {}
        self._redis_down = False

    async def touch(self, session_id: str) -> None:
        """Note a request of the session; a dictionary update unless a minute passed since the last write."""
        now = self._clock()
        entry = self._seen.get(session_id)
        if entry is not None:
            entry[0] = now
            if now - entry[1] < WRITE_INTERVAL_SECONDS:
                return
            entry[1] = now
        else:
            if len(self._seen) >= MAX_SESSIONS_IN_MEMORY:
                self._seen = {}  # the next write of each session comes a little early: harmless
            self._seen[session_id] = [now, now]
        try:
            # Slack of one write interval: the key must outlive the lag of the value it holds.
            await self._client.set(
                activity_key(session_id), repr(now), ex=self._idle_timeout_seconds + int(WRITE_INTERVAL_SECONDS)
            )
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._redis_answered()

    async def last_activity(self, session_id: str) -> float | None:
        """The latest activity known here or in Redis (Unix time), or None when none is known."""
        entry = self._seen.get(session_id)
        known = [entry[0]] if entry is not None else []
        try:
            stored = await self._client.get(activity_key(session_id))
        except redis.RedisError as error:
            self._redis_failed(error)
        else:
            self._redis_answered()
            if stored is not None:
                known.append(float(stored))
        return max(known, default=None)

    def now(self) -> float:
        return self._clock()

    def _redis_failed(self, error: redis.RedisError) -> None:
        if not self._redis_down:
            self._redis_down = True
            logger.warning(
                "Redis is unreachable (%s); session activity is known only per process until it answers again", error
            )

    def _redis_answered(self) -> None:
        if self._redis_down:
            self._redis_down = False
            logger.info("Redis answers again; session activity is shared again")


def refresh_access_token(
    settings: Settings, principal: Principal, claims: TokenClaims, last_activity: float | None, now: float
) -> AccessToken:
    """A new token of the same session for a caller whose current token is valid and current.

    In HIPAA mode only within the idle timeout of the session's last activity, and never
    past it; outside HIPAA mode, a token of the usual lifetime.
    """
    not_after = None
    if settings.hipaa_mode:
        idle_timeout = timedelta(minutes=settings.hipaa_idle_timeout_minutes).total_seconds()
        if last_activity is None or now - last_activity >= idle_timeout:
            raise AuthenticationError(
                f"this session was idle for more than {settings.hipaa_idle_timeout_minutes} minutes "
                "and has ended; log in again"
            )
        not_after = datetime.fromtimestamp(last_activity + idle_timeout, UTC)
    return issue_access_token(
        settings,
        principal.user_id,
        principal.username,
        token_version=principal.token_version,
        session_id=claims.session_id,
        not_after=not_after,
    )


def end_session(
    connection: Connection, settings: Settings, principal: Principal, claims: TokenClaims, info: audit.RequestInfo
) -> None:
    """Log the caller's session out, audited: the token they sent, and every token refreshed
    from the same session, is refused from the commit on.

    The row is kept as long as a token issued this instant could live, which no token of the
    session can outlive (a refresh needs a session that has not ended). Rows past that are
    pruned here: logouts are rare, and the table stays as small as the sessions still open.
    """
    connection.execute(text("DELETE FROM bi.ended_sessions WHERE expires_at <= now()"))
    connection.execute(
        text(
            "INSERT INTO bi.ended_sessions (session_id, user_id, expires_at) "
            "VALUES (:session_id, :user_id, now() + make_interval(secs => :lifetime)) "
            "ON CONFLICT (session_id) DO NOTHING"
        ),
        {
            "session_id": claims.session_id,
            "user_id": principal.user_id,
            "lifetime": access_token_lifetime(settings).total_seconds(),
        },
    )
    audit.record_access(connection, principal, info, action=audit.Action.LOGOUT)
