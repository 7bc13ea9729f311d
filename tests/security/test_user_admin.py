"""The domain rule behind the admin routes: the platform never loses its last active admin,
not even to a caller who is no admin or to two admins disabling each other at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine

from bi_agent.errors import ConflictError
from bi_agent.security import users

PASSWORD = "a long enough password"


def add(engine: Engine, username: str, roles: list[str]) -> uuid.UUID:
    with engine.begin() as connection:
        return users.create_user(connection, username, PASSWORD, roles).id


def test_last_admin_cannot_be_disabled_or_demoted_by_anyone(engine: Engine) -> None:
    admin = add(engine, "only-admin", ["admin"])
    someone_else = uuid.uuid4()
    with engine.begin() as connection, pytest.raises(ConflictError, match="last active admin"):
        users.update_user(connection, admin, acting_user_id=someone_else, is_active=False)
    with engine.begin() as connection, pytest.raises(ConflictError, match="last active admin"):
        users.set_roles(connection, admin, ["viewer"], acting_user_id=someone_else)
    with engine.connect() as connection:
        user = users.get_user(connection, admin)
    assert (user.is_active, user.roles) == (True, ("admin",))


def refused_while_the_other_is_uncommitted(
    engine: Engine, committed: Callable[[Connection], object], racing: Callable[[Connection], object]
) -> None:
    """`racing` starts while `committed` is not committed yet: it waits for it, then is refused."""
    outcome: list[BaseException | None] = []

    def race() -> None:
        try:
            with engine.begin() as connection:
                racing(connection)
            outcome.append(None)
        except ConflictError as error:
            outcome.append(error)

    with engine.begin() as connection:
        committed(connection)
        racer = threading.Thread(target=race)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive()
    racer.join(timeout=10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConflictError)


def test_two_admins_disabling_each_other_at_once_leave_one(engine: Engine) -> None:
    first = add(engine, "first-admin", ["admin"])
    second = add(engine, "second-admin", ["admin"])
    refused_while_the_other_is_uncommitted(
        engine,
        lambda connection: users.update_user(connection, second, acting_user_id=first, is_active=False),
        lambda connection: users.update_user(connection, first, acting_user_id=second, is_active=False),
    )
    with engine.connect() as connection:
        assert users.get_user(connection, first).is_active
        assert not users.get_user(connection, second).is_active


def test_two_admins_demoting_each_other_at_once_leave_one(engine: Engine) -> None:
    first = add(engine, "first-demoter", ["admin"])
    second = add(engine, "second-demoter", ["admin", "analyst"])
    refused_while_the_other_is_uncommitted(
        engine,
        lambda connection: users.set_roles(connection, second, ["analyst"], acting_user_id=first),
        lambda connection: users.set_roles(connection, first, ["viewer"], acting_user_id=second),
    )
    with engine.connect() as connection:
        assert users.get_user(connection, first).roles == ("admin",)
        assert users.get_user(connection, second).roles == ("analyst",)
