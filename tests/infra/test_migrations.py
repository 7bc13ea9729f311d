"""Migrations from an empty database up to head and down again, on PostgreSQL 15 and 18."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from bi_agent.infra import migrations
from tests.conftest import PostgresServer


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    created = create_engine(database)
    yield created
    created.dispose()


def schemas(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars())


def extensions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())


def available_extensions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT name FROM pg_available_extensions")).scalars())


def test_up_from_empty_and_down_again(
    engine: Engine, postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert not {"bi", "analytics"} & schemas(engine)

    with caplog.at_level(logging.WARNING):
        migrations.upgrade(engine)

    assert {"bi", "analytics"} <= schemas(engine)
    wanted = {"uuid-ossp", "pgcrypto", "vector"}
    offered = available_extensions(engine) & wanted
    # Each extension is created where the server has it, and its absence is a warning.
    assert extensions(engine) & wanted == offered
    for missing in wanted - offered:
        assert any(f"extension {missing} is not available" in record.message for record in caplog.records)
    if postgres.kind == "postgres18":
        # The embedded server ships pgvector (but not the contrib modules).
        assert "vector" in offered
    else:
        # The machine's PostgreSQL 15 has the contrib modules but no pgvector.
        assert offered == {"uuid-ossp", "pgcrypto"}
    with engine.connect() as connection:
        tables = set(connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'bi'")).scalars())
        assert {"roles", "role_permissions", "users", "user_roles", "datasets", "dataset_columns", "imports"} <= tables
        head = ScriptDirectory.from_config(migrations.alembic_config(engine)).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head

    migrations.downgrade(engine, "base")

    assert not {"bi", "analytics"} & schemas(engine)
    assert not {"uuid-ossp", "pgcrypto", "vector"} & extensions(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 0


def test_upgrade_is_idempotent(engine: Engine) -> None:
    migrations.upgrade(engine)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM bi.roles")).scalar_one() == 3


def test_built_in_roles_and_permissions(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT role, permission FROM bi.role_permissions")).all()
    permissions: dict[str, set[str]] = {}
    for role, permission in rows:
        permissions.setdefault(role, set()).add(permission)
    assert set(permissions) == {"admin", "analyst", "viewer"}
    # Every permission of a lesser role is also the admin's; only admins manage users and read PHI.
    assert permissions["viewer"] < permissions["analyst"] < permissions["admin"]
    assert {"users:manage", "audit:read", "phi:read"} <= permissions["admin"] - permissions["analyst"]
    assert not any(permission.endswith((":write", ":train")) for permission in permissions["viewer"])


def test_0016_removes_metrics_that_are_min_or_max_of_text_and_moves_the_epoch(engine: Engine) -> None:
    migrations.upgrade(engine, "0015")
    with engine.begin() as connection:
        dataset_id = connection.execute(text("INSERT INTO bi.datasets (name) VALUES ('visits') RETURNING id")).scalar()
        for position, (name, data_type) in enumerate([("visit_date", "date"), ("mrn", "text"), ("charges", "bigint")]):
            connection.execute(
                text(
                    "INSERT INTO bi.dataset_columns (dataset_id, name, position, source_name, data_type, role) "
                    "VALUES (:id, :name, :position, :name, :type, 'dimension')"
                ),
                {"id": dataset_id, "name": name, "position": position, "type": data_type},
            )
        for name, aggregation, column in [("top_mrn", "max", "mrn"), ("mrns", "count_distinct", "mrn"),
                                          ("top_charge", "max", "charges")]:  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO bi.metrics (name, dataset_id, aggregation, column_name, time_column) "
                    "VALUES (:name, :id, :aggregation, :column, 'visit_date')"
                ),
                {"name": name, "id": dataset_id, "aggregation": aggregation, "column": column},
            )
        connection.execute(
            text(
                "INSERT INTO bi.kpi_snapshots (metric_id, grain, period_start, value, data_version) "
                "SELECT id, 'month', '2024-01-01', 1, 1 FROM bi.metrics"
            )
        )
        before = connection.execute(text("SELECT token FROM bi.catalog_epoch")).scalar()

    migrations.upgrade(engine)

    with engine.connect() as connection:
        left = connection.execute(text("SELECT name FROM bi.metrics ORDER BY name")).scalars().all()
        kept = connection.execute(text("SELECT count(*) FROM bi.kpi_snapshots")).scalar()
        assert connection.execute(text("SELECT token FROM bi.catalog_epoch")).scalar() != before
    assert (left, kept) == (["mrns", "top_charge"], 2)
