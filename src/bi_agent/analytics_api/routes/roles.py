"""Roles and the permissions each grants: list them; add, change and remove roles of your own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from bi_agent.http.audit_context import RequestInfoDep
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing
from bi_agent.security import audit, roles
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/roles", tags=["roles"])

RoleManager = Annotated[Principal, require(Permission.USERS_MANAGE)]


class RoleReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    built_in: bool = Field(description="admin, analyst or viewer: fixed permissions, never removed")
    permissions: list[str]


class NewRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63, description="lowercase letters, digits and _")
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(default_factory=list, max_length=50)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    permissions: list[str] | None = Field(default=None, max_length=50, description="replaces the role's permissions")


@router.get("", summary="List roles and their permissions")
def get_roles(principal: RoleManager, connections: ConnectionsDep) -> Listing[RoleReply]:
    """Every role in name order; `bi.role_permissions` is the one source of these permissions."""
    with connections.engine.connect() as connection:
        found = roles.list_roles(connection)
    return Listing(items=[RoleReply.model_validate(role) for role in found], total=len(found))


@router.post("", status_code=201, summary="Add a role")
def create_role(body: NewRole, principal: RoleManager, connections: ConnectionsDep, info: RequestInfoDep) -> RoleReply:
    """A role of your own, for example one a row policy limits to a region. 409 if it exists."""
    with connections.engine.begin() as connection:
        role = roles.create_role(connection, body.name, body.description, body.permissions)
        _record(connection, principal, info, audit.Action.ROLE_CREATE, role)
    return RoleReply.model_validate(role)


@router.patch("/{name}", summary="Change a role's description or permissions")
def update_role(
    name: str, body: RoleChange, principal: RoleManager, connections: ConnectionsDep, info: RequestInfoDep
) -> RoleReply:
    """Applies to the next request of everyone holding the role. Built-in roles are fixed (409)."""
    with connections.engine.begin() as connection:
        role = roles.update_role(connection, name, description=body.description, permissions=body.permissions)
        _record(connection, principal, info, audit.Action.ROLE_UPDATE, role)
    return RoleReply.model_validate(role)


@router.delete("/{name}", status_code=204, summary="Remove a role nobody holds")
def delete_role(name: str, principal: RoleManager, connections: ConnectionsDep, info: RequestInfoDep) -> Response:
    """Its row policies go with it. 409 for a built-in role or one that users hold."""
    with connections.engine.begin() as connection:
        role = roles.get_role(connection, name)
        roles.delete_role(connection, name)
        _record(connection, principal, info, audit.Action.ROLE_DELETE, role)
    return Response(status_code=204)


def _record(
    connection: Connection, principal: Principal, info: audit.RequestInfo, action: audit.Action, role: roles.Role
) -> None:
    audit.record_access(
        connection,
        principal,
        info,
        action=action,
        resource=f"role:{role.name}",
        details={"permissions": list(role.permissions)},
    )
