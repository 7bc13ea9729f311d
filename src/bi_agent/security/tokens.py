"""JWT access tokens (PyJWT): HS256 by default, with `exp`, `iat`, `sub` and `aud` checked."""

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


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int  # seconds


def issue_access_token(settings: Settings, user_id: uuid.UUID, username: str) -> AccessToken:
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    claims = {
        "sub": str(user_id),
        "name": username,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)
    return AccessToken(token=token, expires_in=int(lifetime.total_seconds()))


def verify_access_token(settings: Settings, token: str) -> uuid.UUID:
    """The user id the token was issued to; AuthenticationError for anything else."""
    user_id, expires_at = _verified(token, settings.jwt_secret.get_secret_value(), settings.jwt_algorithm)
    if time.time() >= expires_at:
        raise AuthenticationError("the access token has expired; log in again")
    return user_id


# A client sends the same token with every request: its signature is checked once, its
# expiry every time. Only good tokens are remembered (lru_cache keeps no exceptions).
@lru_cache(maxsize=4096)
def _verified(token: str, secret: str, algorithm: str) -> tuple[uuid.UUID, float]:
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
        raise AuthenticationError("the access token has expired; log in again") from None
    except jwt.InvalidTokenError:
        raise AuthenticationError("the access token is not valid") from None
    try:
        return uuid.UUID(str(claims["sub"])), float(claims["exp"])
    except (ValueError, TypeError):
        raise AuthenticationError("the access token is not valid") from None
