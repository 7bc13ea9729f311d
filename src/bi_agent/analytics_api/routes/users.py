"""User administration: create, list, read, enable/disable, set passwords and roles.

Every route needs `users:manage`. Replies never carry a password or its hash. Each
change is written to the audit log in its own transaction, naming what changed
(never the password itself); disabling a user, setting their password or changing
their roles ends their sessions at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from bi_agent.http.audit_context import RequestInfoDep
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing, PageDep
from bi_agent.security import audit, users
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.users import MAX_PASSWORD_LENGTH

router = APIRouter(prefix="/users", tags=["users"])

UserManager = Annotated[Principal, require(Permission.USERS_MANAGE)]
RoleNames = Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=100)]
# Length and format are checked by the domain, which says what is wrong in its own words.
Password = Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]


class UserReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    is_active: bool = Field(description="false: disabled, every login and token refused")
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = Field(description="null until the first login")


class NewUser(BaseModel):
    username: str = Field(
        max_length=128,
        description="1 to 128 lowercase letters, digits and _ . @ -, starting with a letter or a digit",
    )
    password: Password = Field(description=f"At least {users.MIN_PASSWORD_LENGTH} characters")
    roles: RoleNames


class UserChange(BaseModel):
    is_active: StrictBool | None = Field(default=None, description="false disables the user, true enables")
    password: Password | None = None


class RoleAssignment(BaseModel):
    roles: RoleNames


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a user")
def create_user(body: NewUser, principal: UserManager, connections: ConnectionsDep, info: RequestInfoDep) -> UserReply:
    """A new, active user with the given roles. 409 when the username is taken, 422 naming
    an unknown role or what is wrong with the username or password."""
    with connections.engine.begin() as connection:
        user = users.create_user(connection, body.username, body.password, body.roles)
        audit.record_access(
            connection,
            principal,
            info,
            action=audit.Action.USER_CREATE,
            resource=f"user:{user.id}",
            details={"target_username": user.username, "roles": list(user.roles)},
        )
    return UserReply.model_validate(user)


@router.get("", summary="List users")
def list_users(
    principal: UserManager,
    connections: ConnectionsDep,
    page: PageDep,
) -> Listing[UserReply]:
    """Users in username order, a page at a time, with the total count."""
    with connections.engine.connect() as connection:
        listed = users.list_users(connection, limit=page.limit, offset=page.offset)
    return Listing(items=[UserReply.model_validate(user) for user in listed.items], total=listed.total)


@router.get("/{user_id}", summary="Read a user")
def get_user(user_id: uuid.UUID, principal: UserManager, connections: ConnectionsDep) -> UserReply:
    """One user with their roles; 404 for an unknown id."""
    with connections.engine.connect() as connection:
        user = users.get_user(connection, user_id)
    return UserReply.model_validate(user)


@router.patch("/{user_id}", summary="Enable or disable a user, or set their password")
def update_user(
    user_id: uuid.UUID, body: UserChange, principal: UserManager, connections: ConnectionsDep, info: RequestInfoDep
) -> UserReply:
    """Fields left out stay as they are. A disabled user cannot log in; disabling a user or
    setting their password ends their sessions: their tokens stop working at once. 409 when
    an admin would disable themself or the last admin."""
    with connections.engine.begin() as connection:
        user = users.update_user(
            connection,
            user_id,
            acting_user_id=principal.user_id,
            is_active=body.is_active,
            password=body.password,
        )
        audit.record_access(
            connection,
            principal,
            info,
            action=audit.Action.USER_UPDATE,
            resource=f"user:{user.id}",
            details={
                "target_username": user.username,
                "is_active": body.is_active,
                "password_changed": body.password is not None,
            },
        )
    return UserReply.model_validate(user)


@router.put("/{user_id}/roles", summary="Replace a user's roles")
def set_roles(
    user_id: uuid.UUID, body: RoleAssignment, principal: UserManager, connections: ConnectionsDep, info: RequestInfoDep
) -> UserReply:
    """The user holds exactly these roles afterwards; a change ends their sessions, so they log
    in again to use the new roles. 409 when an admin would remove their own admin role or the
    last admin's."""
    with connections.engine.begin() as connection:
        before = users.get_user(connection, user_id)
        user = users.set_roles(connection, user_id, body.roles, acting_user_id=principal.user_id)
        audit.record_access(
            connection,
            principal,
            info,
            action=audit.Action.USER_ROLES,
            resource=f"user:{user.id}",
            details={"target_username": user.username, "roles": list(user.roles), "previous_roles": list(before.roles)},
        )
    return UserReply.model_validate(user)
