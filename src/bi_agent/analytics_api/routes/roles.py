"""The roles a user can be given, with the permissions each grants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.users import list_roles

router = APIRouter(prefix="/roles", tags=["roles"])


class RoleReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    built_in: bool
    permissions: list[str]


class RoleList(BaseModel):
    items: list[RoleReply]
    total: int


@router.get("", summary="List roles and their permissions")
def get_roles(
    principal: Annotated[Principal, require(Permission.USERS_MANAGE)], connections: ConnectionsDep
) -> RoleList:
    """Every role in name order; `bi.role_permissions` is the one source of these permissions."""
    with connections.engine.connect() as connection:
        roles = list_roles(connection)
    return RoleList(items=[RoleReply.model_validate(role) for role in roles], total=len(roles))
