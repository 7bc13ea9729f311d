"""Platform users and their roles, stored in schema `bi`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from bi_agent.security.passwords import generate_password, hash_password


@dataclass(frozen=True)
class AdminBootstrap:
    """What `ensure_admin` did: the password is set only when it was generated now."""

    username: str
    created: bool
    generated_password: str | None


def ensure_admin(connection: Connection, username: str, password: str | None) -> AdminBootstrap:
    """Create the first admin unless that user exists already.

    An existing admin keeps their password: a restart with another
    BI_AGENT_ADMIN_PASSWORD must not silently reset a changed one.
    """
    generated = None
    if password is None:
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
