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
from bi_agent.infra.connections import Connections
from bi_agent.security.permissions import Permission, Principal, load_principal
from bi_agent.security.tokens import verify_access_token
from bi_agent.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")


def get_connections(request: Request) -> Connections:
    connections: Connections = request.app.state.connections
    return connections


def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ConnectionsDep = Annotated[Connections, Depends(get_connections)]
SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]


async def current_principal(
    connections: ConnectionsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("this route needs an access token: send `Authorization: Bearer <token>`")
    user_id = verify_access_token(connections.settings, credentials.credentials)

    def load() -> Principal | None:
        with connections.engine.connect() as connection:
            return load_principal(connection, user_id)

    principal = await run_in_threadpool(load)
    if principal is None:
        raise AuthenticationError("the account behind this token is unknown or disabled")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """A dependency that lets the call through only with `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(permission):
            raise PermissionDeniedError(f"this needs the permission {permission.value}, which your roles lack")
        return principal

    # Read by the test that walks every route: each must name the permission it needs.
    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)
