"""JWT access tokens (PyJWT): HS256 by default, with `exp`, `iat`, `sub` and `aud` checked.

Besides the standard claims a token carries `ver`, the user's token version when it was
issued (bi.users.token_version, moved by disabling the user, changing their roles or
their password: a token of an older version is refused, see http/auth.py), and `sid`,
the session it belongs to: the same for every token refreshed from one login, so the
idle timeout of HIPAA mode follows the session (security/sessions.py).

Lifetime: ACCESS_TOKEN_EXPIRE_MINUTES, or HIPAA_ACCESS_TOKEN_EXPIRE_MINUTES (15 by
default) in HIPAA mode.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from bi_agent.errors import AuthenticationError
from bi_agent.settings import Settings

AUDIENCE = "bi-agent"
ISSUER = "bi-agent"
EXPIRED = "the access token has expired; log in again"
NOT_VALID = "the access token is not valid; log in again"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int  # seconds
    session_id: str


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    user_id: uuid.UUID
    token_version: int
    session_id: str
    issued_at: float
    expires_at: float


def access_token_lifetime(settings: Settings) -> timedelta:
    minutes = (
        settings.hipaa_access_token_expire_minutes if settings.hipaa_mode else settings.access_token_expire_minutes
    )
    return timedelta(minutes=minutes)


def issue_access_token(
    settings: Settings,
    user_id: uuid.UUID,
    username: str,
    *,
    token_version: int = 0,
    session_id: str | None = None,
    not_after: datetime | None = None,
) -> AccessToken:
    """A token for the user; a new session unless `session_id` continues one. `not_after`
    shortens the lifetime (a refresh near the end of the idle timeout), never lengthens it."""
    now = datetime.now(UTC)
    expires_at = now + access_token_lifetime(settings)
    if not_after is not None:
        expires_at = min(expires_at, not_after)
    session = session_id or uuid.uuid4().hex
    claims = {
        "sub": str(user_id),
        "name": username,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": expires_at,
        "jti": uuid.uuid4().hex,
        "sid": session,
        "ver": token_version,
    }
    token = jwt.encode(claims, settings.signing_secret(), algorithm=settings.jwt_algorithm)
    return AccessToken(token=token, expires_in=max(0, int((expires_at - now).total_seconds())), session_id=session)


def verify_access_token(settings: Settings, token: str) -> TokenClaims:
    """The token's claims; AuthenticationError for a forged, malformed or expired one."""
    claims = _verified(token, settings.signing_secret(), settings.jwt_algorithm)
    if time.time() >= claims.expires_at:
        raise AuthenticationError(EXPIRED)
    return claims


# A client sends the same token with every request: its signature is checked once, its
# expiry every time. Only good tokens are remembered (lru_cache keeps no exceptions).
@lru_cache(maxsize=4096)
def _verified(token: str, secret: str, algorithm: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            # An explicit list: a token cannot choose its own algorithm ("none", RS/HS confusion).
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(EXPIRED) from None
    except jwt.InvalidTokenError:
        raise AuthenticationError(NOT_VALID) from None
    # Tokens from before `ver` and `sid` existed are version 0 and their own session.
    version = claims.get("ver", 0)
    session = claims.get("sid") or claims.get("jti") or f"{claims['sub']}:{claims['iat']}"
    if type(version) is not int or not isinstance(session, str):
        raise AuthenticationError(NOT_VALID)
    try:
        return TokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            token_version=version,
            session_id=session,
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )
    except (ValueError, TypeError):
        raise AuthenticationError(NOT_VALID) from None
