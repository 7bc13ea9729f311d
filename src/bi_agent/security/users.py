"""Platform users and their roles, stored in schema `bi`.

Every function takes the caller's connection and leaves the transaction to it, so
a route makes each change in one transaction. Password hashes never leave this
module: `User` has none.

Disabling or enabling a user, setting their password or changing their roles moves
their `token_version`, which ends every token issued before (see security/tokens.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from bi_agent.errors import ConfigurationError, ConflictError, InvalidInputError, NotFoundError
from bi_agent.security.passwords import generate_password, hash_password

# The same rule as the check constraint `users_username_format` of migration 0002.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.@-]{0,127}")
MIN_PASSWORD_LENGTH = 12
# Bounds the work of hashing a password sent by anyone.
MAX_PASSWORD_LENGTH = 1024
ADMIN_ROLE = "admin"

# Serialises the changes that can take away an admin, so two admins disabling each
# other at the same moment cannot both succeed and leave the platform without one.
_ADMIN_CHANGES_LOCK = 0x62695F61646D696E

_SELECT_USERS = (
    "SELECT u.id, u.username, u.is_active, u.created_at, u.updated_at, u.last_login_at, "
    "coalesce(array_agg(ur.role ORDER BY ur.role) FILTER (WHERE ur.role IS NOT NULL), '{}') AS roles "
    "FROM bi.users u LEFT JOIN bi.user_roles ur ON ur.user_id = u.id"
)


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    is_active: bool
    roles: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    total: int


@dataclass(frozen=True)
class AdminBootstrap:
    """What `ensure_admin` did: the password is set only when it was generated now."""

    username: str
    created: bool
    generated_password: str | None


def ensure_admin(
    connection: Connection, username: str, password: str | None, *, may_generate: bool = True
) -> AdminBootstrap:
    """Create the first admin unless that user exists already.

    An existing admin keeps their password: a restart with another
    BI_AGENT_ADMIN_PASSWORD must not silently reset a changed one. Without a password one
    is generated for the caller to show, unless `may_generate` is false (output that ends
    in a log, where a password must never be): then a missing admin is a ConfigurationError.
    """
    generated = None
    if password is None:
        if not may_generate:
            exists = connection.execute(
                text("SELECT 1 FROM bi.users WHERE username = :username"), {"username": username}
            ).first()
            if exists:
                return AdminBootstrap(username=username, created=False, generated_password=None)
            raise ConfigurationError(
                f"BI_AGENT_ADMIN_PASSWORD is empty and admin {username!r} does not exist yet: set the first "
                "admin's password in .env (scripts/setup-local-env.sh makes one up); a generated password "
                "is shown only on a terminal, never written where logs go"
            )
        generated = password = generate_password()
    # ON CONFLICT: two processes starting at once create one admin, not an error.
    user_id = connection.execute(
        text(
            "INSERT INTO bi.users (username, password_hash) VALUES (:username, :hash) "
            "ON CONFLICT (username) DO NOTHING RETURNING id"
        ),
        {"username": username, "hash": hash_password(password)},
    ).scalar_one_or_none()
    if user_id is None:
        return AdminBootstrap(username=username, created=False, generated_password=None)
    connection.execute(
        text("INSERT INTO bi.user_roles (user_id, role) VALUES (:user_id, 'admin')"), {"user_id": user_id}
    )
    return AdminBootstrap(username=username, created=True, generated_password=generated)


def create_user(connection: Connection, username: str, password: str, roles: Iterable[str]) -> User:
    """A new active user with these roles; ConflictError when the username is taken."""
    _check_username(username)
    wanted = _known_roles(connection, roles)
    password_hash = _hash_new_password(password)
    # ON CONFLICT: of two requests creating the same user at once, the second gets a 409, not a 500.
    user_id = connection.execute(
        text(
            "INSERT INTO bi.users (username, password_hash) VALUES (:username, :hash) "
            "ON CONFLICT (username) DO NOTHING RETURNING id"
        ),
        {"username": username, "hash": password_hash},
    ).scalar_one_or_none()
    if user_id is None:
        raise ConflictError(f"a user named {username!r} exists already")
    _insert_roles(connection, user_id, wanted)
    return get_user(connection, user_id)


def get_user(connection: Connection, user_id: uuid.UUID) -> User:
    row = connection.execute(
        text(f"{_SELECT_USERS} WHERE u.id = :user_id GROUP BY u.id"),
        {"user_id": user_id},
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no user with id {user_id}")
    return _user(row)


def list_users(connection: Connection, limit: int, offset: int) -> UserPage:
    """Users in username order."""
    rows = connection.execute(
        text(f"{_SELECT_USERS} GROUP BY u.id ORDER BY u.username LIMIT :limit OFFSET :offset"),
        {"limit": limit, "offset": offset},
    ).all()
    total = connection.execute(text("SELECT count(*) FROM bi.users")).scalar_one()
    return UserPage(items=[_user(row) for row in rows], total=total)


def update_user(
    connection: Connection,
    user_id: uuid.UUID,
    *,
    acting_user_id: uuid.UUID,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Enable or disable a user and/or set their password; None leaves a field as it is.

    A change of either ends the user's sessions: their tokens stop working at once."""
    password_hash = None if password is None else _hash_new_password(password)
    if is_active is False:
        if user_id == acting_user_id:
            raise ConflictError(
                "you cannot disable your own account: another admin must do it, "
                "so the platform always keeps an admin who can sign in"
            )
        _lock_admin_changes(connection)
        _refuse_losing_the_last_admin(connection, get_user(connection, user_id), "disabled")
    # SET sees the row as it was: the version moves only when the status really changes.
    updated = connection.execute(
        text(
            "UPDATE bi.users SET is_active = coalesce(:is_active, is_active), "
            "password_hash = coalesce(:hash, password_hash), updated_at = now(), "
            "token_version = token_version + CASE WHEN CAST(:hash AS text) IS NOT NULL "
            "OR coalesce(CAST(:is_active AS boolean), is_active) <> is_active THEN 1 ELSE 0 END "
            "WHERE id = :user_id RETURNING id"
        ),
        {"user_id": user_id, "is_active": is_active, "hash": password_hash},
    ).scalar_one_or_none()
    if updated is None:
        raise NotFoundError(f"no user with id {user_id}")
    return get_user(connection, user_id)


def set_roles(connection: Connection, user_id: uuid.UUID, roles: Iterable[str], *, acting_user_id: uuid.UUID) -> User:
    """Replace the user's roles with exactly these; a change ends the user's sessions."""
    wanted = _known_roles(connection, roles)
    _lock_admin_changes(connection)
    current = get_user(connection, user_id)
    if ADMIN_ROLE in current.roles and ADMIN_ROLE not in wanted:
        if user_id == acting_user_id:
            raise ConflictError(
                "you cannot remove the admin role from yourself: another admin must do it, "
                "so the platform always keeps an admin"
            )
        _refuse_losing_the_last_admin(connection, current, "removed from the admin role")
    connection.execute(text("DELETE FROM bi.user_roles WHERE user_id = :user_id"), {"user_id": user_id})
    _insert_roles(connection, user_id, wanted)
    connection.execute(
        text("UPDATE bi.users SET updated_at = now(), token_version = token_version + :moved WHERE id = :user_id"),
        {"user_id": user_id, "moved": int(wanted != set(current.roles))},
    )
    return get_user(connection, user_id)


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInputError(
            f"username {username[:140]!r} is not allowed: use 1 to 128 lowercase letters, digits "
            "and the characters _ . @ -, starting with a letter or a digit"
        )


def _hash_new_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    return hash_password(password)


def _known_roles(connection: Connection, roles: Iterable[str]) -> set[str]:
    wanted = set(roles)
    existing = set(connection.execute(text("SELECT name FROM bi.roles")).scalars())
    unknown = sorted(wanted - existing)
    if unknown:
        names = ", ".join(repr(name[:70]) for name in unknown)
        raise InvalidInputError(
            f"unknown role{'s' if len(unknown) > 1 else ''} {names} in roles; "
            f"the roles are {', '.join(sorted(existing))}"
        )
    return wanted


def _insert_roles(connection: Connection, user_id: uuid.UUID, roles: set[str]) -> None:
    if roles:
        connection.execute(
            text("INSERT INTO bi.user_roles (user_id, role) VALUES (:user_id, :role)"),
            [{"user_id": user_id, "role": role} for role in sorted(roles)],
        )


def _lock_admin_changes(connection: Connection) -> None:
    """Held until the transaction ends; reads after it see every earlier change committed."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMIN_CHANGES_LOCK})


def _refuse_losing_the_last_admin(connection: Connection, target: User, change: str) -> None:
    if not (target.is_active and ADMIN_ROLE in target.roles):
        return
    others = connection.execute(
        text(
            "SELECT count(*) FROM bi.users u JOIN bi.user_roles ur ON ur.user_id = u.id "
            "WHERE ur.role = :admin AND u.is_active AND u.id <> :user_id"
        ),
        {"admin": ADMIN_ROLE, "user_id": target.id},
    ).scalar_one()
    if others == 0:
        raise ConflictError(
            f"{target.username!r} is the last active admin and cannot be {change}; make another user an admin first"
        )


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        is_active=row.is_active,
        roles=tuple(row.roles),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
    )
