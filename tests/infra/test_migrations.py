"""Migrations from an empty database up to head and down again, on PostgreSQL 15 and 18."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from bi_agent.catalog import rollups
from bi_agent.infra import migrations
from tests.conftest import PostgresServer


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    created = create_engine(empty_database)
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


def test_0017_rebuilds_rollups_that_kept_min_and_max_of_text(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations.upgrade(engine, "0016")
    with engine.begin() as connection:
        for name, columns in (
            ("visits", "visit_date date, mrn text, charges bigint"),
            ("sales", "sold_on date, n bigint"),
        ):
            connection.execute(text(f"CREATE TABLE analytics.{name} ({columns})"))
            dataset_id = connection.execute(
                text("INSERT INTO bi.datasets (name) VALUES (:name) RETURNING id"), {"name": name}
            ).scalar()
            for position, column in enumerate(columns.split(", ")):
                column_name, data_type = column.split(" ")
                connection.execute(
                    text(
                        "INSERT INTO bi.dataset_columns (dataset_id, name, position, source_name, data_type, role) "
                        "VALUES (:id, :name, :position, :name, :type, 'dimension')"
                    ),
                    {"id": dataset_id, "name": column_name, "position": position, "type": data_type},
                )
        connection.execute(text("INSERT INTO analytics.visits VALUES ('2024-01-03', 'MRN-7316509', 100)"))
        connection.execute(text("INSERT INTO analytics.sales VALUES ('2024-01-03', 5)"))
        connection.execute(
            text(
                "INSERT INTO bi.metrics (name, dataset_id, aggregation, column_name, time_column) SELECT m.name, d.id, "
                "m.aggregation, m.column_name, m.time_column FROM (VALUES ('mrns', 'visits', 'count', 'mrn', "
                "'visit_date'), ('charges', 'visits', 'sum', 'charges', 'visit_date'), ('sold', 'sales', 'sum', 'n', "
                "'sold_on')) AS m(name, dataset, aggregation, column_name, time_column) "
                "JOIN bi.datasets d ON d.name = m.dataset"
            )
        )
        # The views as they were made before: min and max of every text measure too.
        monkeypatch.setitem(rollups.PARTIALS, "text", ("count", "min", "max"))
        for dataset in ("visits", "sales"):
            rollups.sync(connection, dataset, "UTC")
    rollups.refresh_stale(engine)
    monkeypatch.undo()

    def view_columns() -> dict[str, list[str]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT d.name || ':' || r.grain AS view, array_agg(a.attname::text ORDER BY a.attnum) AS columns "
                    "FROM bi.rollups r JOIN bi.datasets d ON d.id = r.dataset_id JOIN pg_attribute a "
                    "ON a.attrelid = ('analytics.' || r.view_name)::regclass AND a.attnum > 0 GROUP BY 1"
                )
            ).all()
        return {row.view: row.columns for row in rows}

    def stored(view: str) -> list[tuple[object, ...]]:
        with engine.connect() as connection:
            statement = text(f"SELECT * FROM analytics.{view}")  # noqa: S608 - a view name of the catalog
            return [tuple(row) for row in connection.execute(statement).all()]

    with engine.connect() as connection:
        views = {(item.dataset, item.grain): item for item in rollups.rollups_of(connection)}
    assert "m1_max" in view_columns()["visits:day"]
    assert "MRN-7316509" in str(stored(views["visits", "day"].view_name))
    sales_before = stored(views["sales", "day"].view_name)

    migrations.upgrade(engine)

    rebuilt = view_columns()
    for grain in ("day", "month"):
        assert rebuilt[f"visits:{grain}"] == ["day", "n_rows", "m0_sum", "m0_count", "m0_min", "m0_max", "m1_count"]
        assert "m0_min" in rebuilt[f"sales:{grain}"]
    with engine.connect() as connection:
        after = {(item.dataset, item.grain): item for item in rollups.rollups_of(connection)}
    # Rebuilt empty and unused until refreshed; a view without text measures keeps its rows.
    assert {after["visits", grain].data_version for grain in ("day", "month")} == {None}
    assert stored(views["sales", "day"].view_name) == sales_before
    assert after["sales", "day"].data_version == views["sales", "day"].data_version
    refreshed = rollups.refresh_stale(engine)
    assert {(item["dataset"], item["grain"]) for item in refreshed} == {("visits", "day"), ("visits", "month")}
    assert "MRN-7316509" not in str(stored(views["visits", "day"].view_name))

    # The same views as the platform builds now.
    def definitions() -> dict[str, str]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT matviewname, definition FROM pg_matviews WHERE schemaname = 'analytics'")
            ).all()
        return {row.matviewname: row.definition for row in rows}

    migrated = definitions()
    with engine.begin() as connection:
        rollups.sync(connection, "visits", "UTC", rebuild=True)
    assert definitions() == migrated
