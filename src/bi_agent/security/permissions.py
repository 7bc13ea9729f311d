"""The permissions routes ask for, and what a user holds.

The database table `bi.role_permissions` is the one source of truth for which role
has which permission; this module names the permissions and reads that table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, text


class Permission(StrEnum):
    DATASETS_READ = "datasets:read"
    DATASETS_WRITE = "datasets:write"
    METRICS_READ = "metrics:read"
    METRICS_WRITE = "metrics:write"
    QUERIES_RUN = "queries:run"
    DASHBOARDS_READ = "dashboards:read"
    DASHBOARDS_WRITE = "dashboards:write"
    PHI_READ = "phi:read"
    MODELS_READ = "models:read"
    MODELS_TRAIN = "models:train"
    MODELS_PREDICT = "models:predict"
    JOBS_RUN = "jobs:run"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"


@dataclass(frozen=True)
class Principal:
    """Who is calling, with the roles and permissions they hold right now."""

    user_id: uuid.UUID
    username: str
    roles: frozenset[str]
    permissions: frozenset[str]
    # bi.users.token_version: tokens issued under another version are refused.
    token_version: int = 0
    # Sessions (the tokens' `sid`) this user logged out of, while their tokens could be valid.
    ended_sessions: frozenset[str] = frozenset()

    def has(self, permission: Permission) -> bool:
        return permission.value in self.permissions


def load_principal(connection: Connection, user_id: uuid.UUID) -> Principal | None:
    """The active user's roles and permissions, or None for an unknown or disabled user.

    Read whenever the catalog epoch has moved (see principal_cache), so a role change, a
    disabled account or a logout applies at once.
    """
    rows = connection.execute(
        text(
            "SELECT u.username, u.token_version, ur.role, rp.permission, "
            "ARRAY(SELECT e.session_id FROM bi.ended_sessions e "
            "WHERE e.user_id = u.id AND e.expires_at > now()) AS ended_sessions "
            "FROM bi.users u "
            "LEFT JOIN bi.user_roles ur ON ur.user_id = u.id "
            "LEFT JOIN bi.role_permissions rp ON rp.role = ur.role "
            "WHERE u.id = :user_id AND u.is_active"
        ),
        {"user_id": user_id},
    ).all()
    if not rows:
        return None
    return Principal(
        user_id=user_id,
        username=rows[0].username,
        roles=frozenset(row.role for row in rows if row.role is not None),
        permissions=frozenset(row.permission for row in rows if row.permission is not None),
        token_version=rows[0].token_version,
        ended_sessions=frozenset(rows[0].ended_sessions),
    )
