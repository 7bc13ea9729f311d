"""Logging in and out, refreshing a token, and who the caller is: `POST /auth/login`,
`POST /auth/logout`, `POST /auth/refresh`, `GET /me`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bi_agent.http.audit_context import RequestInfoDep
from bi_agent.http.auth import ConnectionsDep, CurrentPrincipal, CurrentSession, SettingsDep
from bi_agent.http.catalog_catch_up import mark_catalog_changed
from bi_agent.security.login import log_in
from bi_agent.security.sessions import SessionActivity, end_session, refresh_access_token
from bi_agent.security.throttle import LoginThrottle
from bi_agent.security.users import MAX_PASSWORD_LENGTH


@asynccontextmanager
async def _login_throttle(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the service's own lifespan, once its connections are open.
    app.state.login_throttle = LoginThrottle.from_settings(app.state.connections.redis, app.state.settings)
    yield


router = APIRouter(tags=["auth"], lifespan=_login_throttle)


async def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


async def get_session_activity(request: Request) -> SessionActivity:
    activity: SessionActivity = request.app.state.session_activity
    return activity


SessionActivityDep = Annotated[SessionActivity, Depends(get_session_activity)]


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
    # What the session works under: in HIPAA mode reads of PHI-bearing data need X-Purpose.
    hipaa_mode: bool


@router.post("/auth/login", summary="Exchange a username and password for an access token")
async def login(
    body: LoginRequest,
    info: RequestInfoDep,
    connections: ConnectionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
    activity: SessionActivityDep,
) -> TokenReply:
    """The one route open to anyone. A wrong username or password is a 401 that does not say
    which. After repeated failures for a username from one address, or from one address
    whatever the usernames, that address waits: a 429 with `Retry-After`, longer after each
    further failure; a right password from an address that has not been failing still gets
    in. Successes and failures are written to the audit log. In HIPAA mode the
    token lives HIPAA_ACCESS_TOKEN_EXPIRE_MINUTES and starts a session that ends when idle."""
    token = await run_in_threadpool(log_in, connections.engine, settings, throttle, body.username, body.password, info)
    if settings.hipaa_mode:
        await activity.touch(token.session_id)
    return TokenReply(access_token=token.token, expires_in=token.expires_in)


# Authentication only, no permission: any signed-in user may extend their own session.
@router.post("/auth/refresh", summary="Exchange a valid access token for a fresh one of the same session")
async def refresh(session: CurrentSession, settings: SettingsDep, activity: SessionActivityDep) -> TokenReply:
    """Send the current, still valid token as the bearer. In HIPAA mode the session must have
    made a request within HIPAA_IDLE_TIMEOUT_MINUTES (a refresh does not count), and the new
    token expires at the latest when that timeout would end the session; otherwise a 401
    says to log in again. A token of a disabled user, or from before a change of their
    password or roles, is refused like on any route."""
    last_activity = await activity.last_activity(session.claims.session_id) if settings.hipaa_mode else None
    token = refresh_access_token(settings, session.principal, session.claims, last_activity, activity.now())
    return TokenReply(access_token=token.token, expires_in=token.expires_in)


# Authentication only, no permission: anyone signed in may end their own session.
@router.post("/auth/logout", status_code=204, summary="End the session of the token sent")
async def logout(
    request: Request,
    session: CurrentSession,
    info: RequestInfoDep,
    connections: ConnectionsDep,
    settings: SettingsDep,
) -> Response:
    """Send the token to end as the bearer. From the reply on, it and every token refreshed
    from the same session are refused with a 401 by both services; the user's other
    sessions (another browser, a script) go on. Written to the audit log."""

    def write() -> None:
        with connections.engine.begin() as connection:
            end_session(connection, settings, session.principal, session.claims, info)

    await run_in_threadpool(write)
    # Read-your-writes: this process hears the change before the reply, not a moment after it.
    mark_catalog_changed(request)
    return Response(status_code=204)


# Authentication only, no permission: every signed-in user may see who they are.
# The route-walking test lists this route as the one that needs no `require(...)`.
@router.get("/me", summary="The caller: id, username, roles and permissions")
def me(principal: CurrentPrincipal, settings: SettingsDep) -> Me:
    """Who the access token belongs to, with the roles and permissions they hold right now,
    and whether the platform runs in HIPAA mode (a client then asks the user's purpose of use)."""
    return Me(
        id=principal.user_id,
        username=principal.username,
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
        hipaa_mode=settings.hipaa_mode,
    )
