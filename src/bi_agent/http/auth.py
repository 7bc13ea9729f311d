"""Who is calling and may they: the bearer token check and `require(permission)`.

Both HTTP services use these dependencies, so the ML service trusts the same tokens.
401 for a missing, bad or expired token, for a disabled user, for a token issued
before the user's token version moved (password, roles or status changed) and for a
token of a session logged out of; 403 naming the missing permission.

Every 403 writes an audit record (who, which route, which permission). A 401 does not:
it names no one for sure, and recording each would let anyone flood the log; failed
logins, which do name an account, are recorded by the login instead. In HIPAA mode each
authenticated request counts as activity of its session (security/sessions.py), except
the refresh itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bi_agent.errors import AuthenticationError, PermissionDeniedError
from bi_agent.http.audit_context import request_info
from bi_agent.http.catalog_catch_up import mark_catalog_changed
from bi_agent.http.metrics import route_template
from bi_agent.infra.catalog_epoch import CatalogEpoch
from bi_agent.infra.connections import Connections
from bi_agent.security import audit
from bi_agent.security.permissions import Permission, Principal, load_principal
from bi_agent.security.principal_cache import PrincipalCache
from bi_agent.security.read_scope import ReadScope
from bi_agent.security.sessions import SessionActivity
from bi_agent.security.tokens import TokenClaims, verify_access_token
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

SESSION_ENDED = (
    "this session has ended because the account's password, roles or status changed since the token was issued; "
    "log in again"
)
SESSION_LOGGED_OUT = "this session was logged out; log in again"

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")


# Dependencies are coroutines even when they do not wait: FastAPI runs a plain function
# in the thread pool, a hand-off that costs more than what these do.
async def get_connections(request: Request) -> Connections:
    connections: Connections = request.app.state.connections
    return connections


async def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ConnectionsDep = Annotated[Connections, Depends(get_connections)]
SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]


def get_catalog_epoch(request: Request) -> str | None:
    """The catalog epoch this process last heard, or None when it cannot be sure of it."""
    epoch: CatalogEpoch = request.app.state.catalog_epoch
    return epoch.current


@dataclass(frozen=True)
class Session:
    """The caller and the token they sent."""

    principal: Principal
    claims: TokenClaims


async def _session(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Session:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("this route needs an access token: send `Authorization: Bearer <token>`")
    connections: Connections = request.app.state.connections
    claims = verify_access_token(connections.settings, credentials.credentials)
    user_id = claims.user_id
    principals: PrincipalCache = request.app.state.principals
    # Heard before the read: a change committed meanwhile moves the epoch past what is kept.
    epoch = get_catalog_epoch(request)
    found, principal = principals.get(user_id, epoch)
    if not found:

        def load() -> Principal | None:
            with connections.engine.connect() as connection:
                return load_principal(connection, user_id)

        principal = await run_in_threadpool(load)
        principals.put(user_id, epoch, principal)
    if principal is None:
        raise AuthenticationError("the account behind this token is unknown or disabled; ask an administrator")
    if principal.token_version != claims.token_version:
        raise AuthenticationError(SESSION_ENDED)
    if claims.session_id in principal.ended_sessions:
        raise AuthenticationError(SESSION_LOGGED_OUT)
    return Session(principal, claims)


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    session = await _session(request, credentials)
    connections: Connections = request.app.state.connections
    if connections.settings.hipaa_mode:
        activity: SessionActivity = request.app.state.session_activity
        await activity.touch(session.claims.session_id)
    return session.principal


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    return await _principal(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_session(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Session:
    """The caller and their token, without counting as activity: for the token refresh alone."""
    return await _session(request, credentials)


CurrentSession = Annotated[Session, Depends(current_session)]

# Writes under these permissions may move the catalog epoch (see http/catalog_catch_up.py).
CATALOG_WRITES = frozenset({Permission.DATASETS_WRITE, Permission.METRICS_WRITE, Permission.USERS_MANAGE})


def require(permission: Permission) -> Any:
    """A dependency that lets the call through only with `permission`, and gives its principal."""

    # One level of dependencies, not a chain: each level costs a cached query a tenth of its time.
    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        return await _permitted(request, credentials, permission)

    # Read by the test that walks every route: each must name the permission it needs.
    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def read_scope(permission: Permission) -> Any:
    """Like `require`, but gives what the caller may see (security/read_scope.py), built once for
    the request from the principal, the settings and the request's purpose of use."""

    async def scope(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> ReadScope:
        principal = await _permitted(request, credentials, permission)
        return ReadScope.of(principal, request.app.state.connections.settings, request_info(request))

    scope.required_permission = permission  # type: ignore[attr-defined]
    return Depends(scope)


async def _permitted(
    request: Request, credentials: HTTPAuthorizationCredentials | None, permission: Permission
) -> Principal:
    principal = await _principal(request, credentials)
    if not principal.has(permission):
        await _record_denial(request, principal, permission)
        raise PermissionDeniedError(f"this needs the permission {permission.value}, which your roles lack")
    if permission in CATALOG_WRITES and request.method != "GET":
        mark_catalog_changed(request)
    return principal


async def _record_denial(request: Request, principal: Principal, permission: Permission) -> None:
    connections: Connections = request.app.state.connections
    info = request_info(request)
    # The route's template, never the path: an id or a name in the path stays out of the log.
    resource = f"{request.method} {route_template(request)}"

    def write() -> None:
        with connections.engine.begin() as connection:
            audit.record_access(
                connection,
                principal,
                info,
                action=audit.Action.PERMISSION_DENIED,
                outcome=audit.Outcome.DENIED,
                resource=resource,
                details={"permission": permission.value},
            )

    try:
        await run_in_threadpool(write)
    except SQLAlchemyError as error:
        # The refusal stands either way; a lost record must at least show in the log.
        logger.error("could not write the audit record of a permission denial (%s)", type(error).__name__)
