"""Logging in, and who the caller is: `POST /auth/login` and `GET /me`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from bi_agent.http.auth import ConnectionsDep, CurrentPrincipal, SettingsDep
from bi_agent.security.login import log_in
from bi_agent.security.throttle import LoginThrottle
from bi_agent.security.users import MAX_PASSWORD_LENGTH


@asynccontextmanager
async def _login_throttle(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the service's own lifespan, once its connections are open.
    app.state.login_throttle = LoginThrottle(app.state.connections.redis)
    yield


router = APIRouter(tags=["auth"], lifespan=_login_throttle)


async def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class TokenReply(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="Seconds the token stays valid")


class Me(BaseModel):
    id: uuid.UUID
    username: str
    roles: list[str]
    permissions: list[str]


@router.post("/auth/login", summary="Exchange a username and password for an access token")
def login(
    body: LoginRequest,
    request: Request,
    connections: ConnectionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> TokenReply:
    """The one route open to anyone. A wrong username or password is a 401 that does not say
    which; too many failed logins for a username or from one address are a 429 with
    `Retry-After`."""
    client_address = request.client.host if request.client else "unknown"
    token = log_in(connections.engine, settings, throttle, body.username, body.password, client_address)
    return TokenReply(access_token=token.token, expires_in=token.expires_in)


# Authentication only, no permission: every signed-in user may see who they are.
# The route-walking test lists this route as the one that needs no `require(...)`.
@router.get("/me", summary="The caller: id, username, roles and permissions")
def me(principal: CurrentPrincipal) -> Me:
    """Who the access token belongs to, with the roles and permissions they hold right now."""
    return Me(
        id=principal.user_id,
        username=principal.username,
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
    )
