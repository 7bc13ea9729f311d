"""The first admin: created once, password hashed with argon2id, never stored in plain."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from bi_agent.errors import ConfigurationError
from bi_agent.security.passwords import verify_password
from bi_agent.security.users import ensure_admin


def stored(engine: Engine, username: str) -> tuple[str, list[str]]:
    with engine.connect() as connection:
        password_hash = connection.execute(
            text("SELECT password_hash FROM bi.users WHERE username = :u"), {"u": username}
        ).scalar_one()
        roles = list(
            connection.execute(
                text("SELECT r.role FROM bi.user_roles r JOIN bi.users u ON u.id = r.user_id WHERE u.username = :u"),
                {"u": username},
            ).scalars()
        )
    return password_hash, roles


def test_generated_password_is_returned_once_and_stored_as_a_hash(engine: Engine) -> None:
    with engine.begin() as connection:
        first = ensure_admin(connection, "admin", None)
    assert first.created and first.generated_password is not None
    assert len(first.generated_password) >= 16
    password_hash, roles = stored(engine, "admin")
    assert password_hash.startswith("$argon2id$")
    assert first.generated_password not in password_hash
    assert verify_password(first.generated_password, password_hash)
    assert roles == ["admin"]

    with engine.begin() as connection:
        second = ensure_admin(connection, "admin", None)
    assert not second.created and second.generated_password is None
    assert stored(engine, "admin")[0] == password_hash


def test_configured_password_is_used_and_not_echoed(engine: Engine) -> None:
    with engine.begin() as connection:
        result = ensure_admin(connection, "chief", "a configured password")
    assert result.created and result.generated_password is None
    assert verify_password("a configured password", stored(engine, "chief")[0])


def test_restart_with_another_password_keeps_the_first(engine: Engine) -> None:
    with engine.begin() as connection:
        ensure_admin(connection, "admin", "first password 123")
    with engine.begin() as connection:
        ensure_admin(connection, "admin", "second password 456")
    assert verify_password("first password 123", stored(engine, "admin")[0])


def test_without_leave_to_generate_a_missing_admin_is_refused_and_an_existing_one_kept(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(ConfigurationError, match="BI_AGENT_ADMIN_PASSWORD is empty"):
        ensure_admin(connection, "nobody-yet", None, may_generate=False)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM bi.users WHERE username = 'nobody-yet'")).scalar() == 0
    with engine.begin() as connection:
        ensure_admin(connection, "admin", "first password 123")
    with engine.begin() as connection:
        kept = ensure_admin(connection, "admin", None, may_generate=False)
    assert not kept.created and kept.generated_password is None
