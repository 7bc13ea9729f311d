"""Who is calling and may they: the bearer token check and `require(permission)`.

Both HTTP services use these dependencies, so the ML service trusts the same tokens.
401 for a missing, bad or expired token and for a disabled user; 403 naming the
missing permission.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from bi_agent.errors import AuthenticationError, PermissionDeniedError
from bi_agent.http.catalog_catch_up import mark_catalog_changed
from bi_agent.infra.catalog_epoch import CatalogEpoch
from bi_agent.infra.connections import Connections
from bi_agent.security.permissions import Permission, Principal, load_principal
from bi_agent.security.principal_cache import PrincipalCache
from bi_agent.security.tokens import verify_access_token
from bi_agent.settings import Settings

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


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("this route needs an access token: send `Authorization: Bearer <token>`")
    connections: Connections = request.app.state.connections
    user_id = verify_access_token(connections.settings, credentials.credentials)
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
        raise AuthenticationError("the account behind this token is unknown or disabled")
    return principal


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    return await _principal(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

# Writes under these permissions may move the catalog epoch (see http/catalog_catch_up.py).
CATALOG_WRITES = frozenset({Permission.DATASETS_WRITE, Permission.METRICS_WRITE, Permission.USERS_MANAGE})


def require(permission: Permission) -> Any:
    """A dependency that lets the call through only with `permission`."""

    # One level of dependencies, not a chain: each level costs a cached query a tenth of its time.
    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principal = await _principal(request, credentials)
        if not principal.has(permission):
            raise PermissionDeniedError(f"this needs the permission {permission.value}, which your roles lack")
        if permission in CATALOG_WRITES and request.method != "GET":
            mark_catalog_changed(request)
        return principal

    # Read by the test that walks every route: each must name the permission it needs.
    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)
