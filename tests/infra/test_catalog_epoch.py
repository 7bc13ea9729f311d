"""The catalog epoch: moved at commit by changes that may alter an answer or a permission,
heard by a listening thread, and unknown (None) whenever the thread cannot be sure."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from bi_agent.infra.catalog_epoch import CatalogEpoch


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT epoch FROM bi.catalog_epoch")).scalar_one())


def heard_after(epoch: CatalogEpoch, before: str | None, seconds: float = 5) -> str | None:
    deadline = time.monotonic() + seconds
    while epoch.current == before and time.monotonic() < deadline:
        time.sleep(0.01)
    return epoch.current


@pytest.fixture
def epoch(engine: Engine) -> Iterator[CatalogEpoch]:
    listener = CatalogEpoch(engine).start()
    assert listener.wait_until_listening(10)
    yield listener
    listener.stop()


def add_role(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO bi.roles (name) VALUES (:name)"), {"name": name})
        connection.execute(
            text("INSERT INTO bi.role_permissions (role, permission) VALUES (:name, 'datasets:read')"),
            {"name": name},
        )


def test_a_committed_change_is_heard_once_per_transaction(engine: Engine, epoch: CatalogEpoch) -> None:
    before, counter = epoch.current, stored(engine)
    add_role(engine, "auditor")  # two tables, two rows: one transaction, one step
    assert heard_after(epoch, before) not in (None, before)
    assert stored(engine) == counter + 1


def test_rollbacks_and_logins_do_not_move_it(engine: Engine, epoch: CatalogEpoch) -> None:
    counter = stored(engine)
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO bi.roles (name) VALUES ('never_committed')"))
        connection.execute(text("INSERT INTO bi.role_permissions VALUES ('never_committed', 'datasets:read')"))
        connection.rollback()
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.users SET last_login_at = now()"))
    assert stored(engine) == counter


def test_catch_up_reads_it_without_waiting(engine: Engine, epoch: CatalogEpoch) -> None:
    add_role(engine, "reviewer")
    epoch.catch_up()
    with engine.connect() as connection:
        token = connection.execute(text("SELECT token::text FROM bi.catalog_epoch")).scalar_one()
    assert epoch.current == token


def test_unknown_while_the_database_is_unreachable() -> None:
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    listener = CatalogEpoch(unreachable).start()
    try:
        assert not listener.wait_until_listening(1.5)
        listener.catch_up()
        assert listener.current is None
    finally:
        listener.stop()
    assert listener.current is None
