"""Roles and the permissions each grants: the built-in three, and roles admins add.

`bi.role_permissions` is the one source of truth. The built-in roles (admin, analyst,
viewer) keep the permissions the migrations gave them: changing them could lock every
admin out, and the product's documentation describes them. Added roles (for example
`north_analyst`, limited to a region by a row policy) take any permissions; a change
applies to the next request of everyone holding the role (the catalog epoch moves).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from bi_agent.security.permissions import Permission

# The database's own check (migration 0002) says the same.
ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    built_in: bool
    permissions: tuple[str, ...]


def list_roles(connection: Connection) -> list[Role]:
    rows = connection.execute(
        text(
            "SELECT r.name, r.description, r.built_in, "
            "coalesce(array_agg(rp.permission ORDER BY rp.permission) "
            "FILTER (WHERE rp.permission IS NOT NULL), '{}') AS permissions "
            "FROM bi.roles r LEFT JOIN bi.role_permissions rp ON rp.role = r.name "
            "GROUP BY r.name ORDER BY r.name"
        )
    ).all()
    return [Role(row.name, row.description, row.built_in, tuple(row.permissions)) for row in rows]


def get_role(connection: Connection, name: str) -> Role:
    found = [role for role in list_roles(connection) if role.name == name]
    if not found:
        raise NotFoundError(f"no role {name[:70]}")
    return found[0]


def create_role(connection: Connection, name: str, description: str, permissions: Iterable[str]) -> Role:
    if not ROLE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"role name {name[:70]!r} is not allowed: use 1 to 63 lowercase letters, digits and _, "
            "starting with a letter"
        )
    wanted = _known_permissions(permissions)
    created = connection.execute(
        text("INSERT INTO bi.roles (name, description) VALUES (:name, :description) ON CONFLICT DO NOTHING"),
        {"name": name, "description": description},
    ).rowcount
    if not created:
        raise ConflictError(f"role {name} exists already")
    _grant(connection, name, wanted)
    return get_role(connection, name)


def update_role(
    connection: Connection, name: str, *, description: str | None = None, permissions: Iterable[str] | None = None
) -> Role:
    """Fields left None stay as they are; `permissions` replaces the role's permissions."""
    role = _changeable(connection, name)
    if description is not None:
        connection.execute(
            text("UPDATE bi.roles SET description = :description WHERE name = :name"),
            {"name": name, "description": description},
        )
    if permissions is not None:
        wanted = _known_permissions(permissions)
        connection.execute(text("DELETE FROM bi.role_permissions WHERE role = :name"), {"name": role.name})
        _grant(connection, name, wanted)
    return get_role(connection, name)


def delete_role(connection: Connection, name: str) -> None:
    """Only a role nobody holds: taking it from its users is a change to each of them."""
    _changeable(connection, name)
    holders = connection.execute(
        text("SELECT count(*) FROM bi.user_roles WHERE role = :name"), {"name": name}
    ).scalar_one()
    if holders:
        raise ConflictError(f"role {name} is held by {holders} user(s); take it from them first")
    connection.execute(text("DELETE FROM bi.roles WHERE name = :name"), {"name": name})


def _changeable(connection: Connection, name: str) -> Role:
    role = get_role(connection, name)
    if role.built_in:
        raise ConflictError(f"role {name} is built in: its permissions are fixed; add a role instead")
    return role


def _known_permissions(permissions: Iterable[str]) -> set[str]:
    wanted = set(permissions)
    known = {permission.value for permission in Permission}
    unknown = sorted(wanted - known)
    if unknown:
        raise InvalidInputError(
            f"unknown permission {', '.join(repr(item[:70]) for item in unknown)}; "
            f"the permissions are {', '.join(sorted(known))}"
        )
    return wanted


def _grant(connection: Connection, name: str, permissions: set[str]) -> None:
    if permissions:
        connection.execute(
            text("INSERT INTO bi.role_permissions (role, permission) VALUES (:role, :permission)"),
            [{"role": name, "permission": permission} for permission in sorted(permissions)],
        )
