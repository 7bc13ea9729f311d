"""Logging in: a username and a password become an access token.

Every refusal of a wrong username or password reads the same and takes the same
time, so a caller cannot tell which users exist. Failed logins are limited by the
`LoginThrottle`.

Every login that reaches the password check is audited: a success in the same
transaction that notes the login, a failure (unknown user, wrong password, disabled
account: the record says which, the caller is not told) in one of its own. A failure
for an unknown user records the username tried: personal data rather than PHI, kept as
any authentication log keeps it, so attacks on names can be seen. Logins refused by the
throttle are not recorded: they check no credentials, and the throttle already bounds
how many failures one client can write. The client address is the peer's, or the one a
proxy the services trust (FORWARDED_ALLOW_IPS) said it forwards for.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import Engine, text

from bi_agent.errors import AuthenticationError
from bi_agent.security import audit
from bi_agent.security.audit import Action, AuditEvent, Outcome, RequestInfo
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
    request: RequestInfo,
) -> AccessToken:
    """An access token for the user; AuthenticationError or TooManyRequestsError otherwise."""
    # Usernames are lower case; folding here also keeps "Admin" and "admin" on one failure count.
    username = username.lower()
    client_address = request.client_address or "unknown"
    throttle.check(username, client_address)
    with engine.connect() as connection:
        user = connection.execute(
            text(
                "SELECT u.id, u.username, u.password_hash, u.is_active, u.token_version, "
                "coalesce((SELECT array_agg(ur.role) FROM bi.user_roles ur WHERE ur.user_id = u.id), '{}') AS roles "
                "FROM bi.users u WHERE u.username = :username"
            ),
            {"username": username},
        ).one_or_none()
    # Hashing outside the connection: a connection is not held for the ~0.1 s that argon2 takes.
    password_hash = _UNKNOWN_USER_HASH if user is None else user.password_hash
    if not verify_password(password, password_hash) or user is None:
        throttle.record_failure(username, client_address)
        reason = "unknown user" if user is None else "wrong password"
        _record_failure(engine, request, username, None if user is None else user.id, reason)
        raise AuthenticationError(WRONG_CREDENTIALS)
    if not user.is_active:
        # Said only to someone who knows the password, so it reveals nothing to a guesser.
        throttle.record_failure(username, client_address)
        _record_failure(engine, request, username, user.id, "account disabled")
        raise AuthenticationError("this account is disabled; ask an administrator to enable it")
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.users SET last_login_at = now() WHERE id = :user_id"), {"user_id": user.id})
        audit.record(
            connection,
            AuditEvent(
                action=Action.LOGIN,
                user_id=user.id,
                username=user.username,
                roles=tuple(user.roles),
                request_id=request.request_id,
                client_address=request.client_address,
            ),
        )
    throttle.record_success(username, client_address)
    return issue_access_token(settings, user.id, user.username, token_version=user.token_version)


def _record_failure(
    engine: Engine, request: RequestInfo, username: str, user_id: uuid.UUID | None, reason: str
) -> None:
    with engine.begin() as connection:
        audit.record(
            connection,
            AuditEvent(
                action=Action.LOGIN,
                outcome=Outcome.FAILURE,
                user_id=user_id,
                username=username,
                request_id=request.request_id,
                client_address=request.client_address,
                details={"reason": reason},
            ),
        )
