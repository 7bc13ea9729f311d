"""The demo dataset: deterministic, seeded once, PHI flagged, and a deleted demo stays deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from bi_agent.catalog import datasets, kpis, metrics, queries
from bi_agent.catalog.demo import DATASET, PHI_COLUMNS, seed_demo, visits_table
from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.security.users import ensure_admin
from tests.read_scopes import OPERATOR

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_the_same_rows_every_time() -> None:
    assert visits_table(rows=500).equals(visits_table(rows=500))
    assert not visits_table(rows=500).equals(visits_table(rows=500, seed=1))


def test_seeded_once_with_phi_flagged(engine: Engine, s3: S3Client) -> None:
    with engine.begin() as connection:
        ensure_admin(connection, "admin", "demo admin password")
    outcome = seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16, owner="admin")
    assert outcome is not None and outcome.rows_imported == 60_000
    with engine.connect() as connection:
        columns = {column.name: column for column in datasets.get_columns(connection, DATASET)}
        span = connection.execute(text("SELECT min(visit_date), max(visit_date) FROM analytics.hospital_visits")).one()
    assert {name for name, column in columns.items() if column.phi} == set(PHI_COLUMNS)
    assert (columns["charges"].role, columns["admitted_at"].role, columns["region"].role) == (
        "measure",
        "time",
        "dimension",
    )
    assert span[0].year == 2024 and span[1].year == 2025
    with engine.connect() as connection:
        assert [metric.name for metric in metrics.metrics_of_dataset(connection, DATASET)] == [
            "avg_length_of_stay",
            "readmissions",
            "total_charges",
            "visits",
        ]
        cards = [card.model_dump(mode="json") for card in kpis.latest(connection, "month", OPERATOR)]
        checked = queries.plan(
            connection,
            QuerySpec(metric="visits", start="2025-01-01", end="2026-01-01", grain="month"),
            "UTC",
            OPERATOR,
        )
        yearly = queries.totals(connection, checked, "UTC")
    assert checked.rollup is not None
    assert 29_000 < yearly[0] < 31_000
    assert {card["metric"] for card in cards} == {"avg_length_of_stay", "readmissions", "total_charges", "visits"}
    assert all(card["period_start"] == "2025-12-01" and not card["stale"] for card in cards)
    with engine.connect() as connection:
        tiles = connection.execute(text("SELECT jsonb_array_length(tiles) FROM bi.dashboards")).scalars().all()
    assert tiles == [8]

    assert seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16) is None
    with engine.begin() as connection:
        datasets.delete_dataset(connection, DATASET)
    assert seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16) is None
