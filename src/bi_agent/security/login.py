"""Logging in: a username and a password become an access token.

Every refusal of a wrong username or password reads the same and takes the same
time, so a caller cannot tell which users exist. Failed logins are limited by the
`LoginThrottle`.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, text

from bi_agent.errors import AuthenticationError
from bi_agent.security.passwords import hash_password, verify_password
from bi_agent.security.throttle import LoginThrottle
from bi_agent.security.tokens import AccessToken, issue_access_token
from bi_agent.settings import Settings

WRONG_CREDENTIALS = "wrong username or password"

# Checked against when the username is unknown, so that refusal takes as long as a
# wrong password. Hashed now with the current parameters, so it costs what a real one costs.
_UNKNOWN_USER_HASH = hash_password(secrets.token_urlsafe(32))


def log_in(
    engine: Engine,
    settings: Settings,
    throttle: LoginThrottle,
    username: str,
    password: str,
    client_address: str,
) -> AccessToken:
    """An access token for the user; AuthenticationError or TooManyRequestsError otherwise."""
    # Usernames are lower case; folding here also keeps "Admin" and "admin" on one failure count.
    username = username.lower()
    throttle.check(username, client_address)
    with engine.connect() as connection:
        user = connection.execute(
            text("SELECT id, username, password_hash, is_active FROM bi.users WHERE username = :username"),
            {"username": username},
        ).one_or_none()
    # Hashing outside the connection: a connection is not held for the ~0.1 s that argon2 takes.
    password_hash = _UNKNOWN_USER_HASH if user is None else user.password_hash
    if not verify_password(password, password_hash) or user is None:
        throttle.record_failure(username, client_address)
        raise AuthenticationError(WRONG_CREDENTIALS)
    if not user.is_active:
        # Said only to someone who knows the password, so it reveals nothing to a guesser.
        throttle.record_failure(username, client_address)
        raise AuthenticationError("this account is disabled; ask an administrator to enable it")
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.users SET last_login_at = now() WHERE id = :user_id"), {"user_id": user.id})
    throttle.record_success(username)
    return issue_access_token(settings, user.id, user.username)
