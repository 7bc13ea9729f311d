"""The demo dataset: deterministic, seeded once, PHI flagged, and a deleted demo stays deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.demo import DATASET, PHI_COLUMNS, seed_demo, visits_table

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_the_same_rows_every_time() -> None:
    assert visits_table(rows=500).equals(visits_table(rows=500))
    assert not visits_table(rows=500).equals(visits_table(rows=500, seed=1))


def test_seeded_once_with_phi_flagged(engine: Engine, s3: S3Client) -> None:
    outcome = seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16)
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

    assert seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16) is None
    with engine.begin() as connection:
        datasets.delete_dataset(connection, DATASET)
    assert seed_demo(engine, s3, "datasets", max_field_bytes=1 << 16) is None
