"""Cleaning: text trimmed, duplicates dropped, numbers and dates stored as text typed, in place,
with a new data_version and the rollups built again; a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from bi_agent.catalog import cleaning, datasets, metrics, rollups
from bi_agent.errors import InvalidInputError, NotFoundError
from tests.catalog.conftest import Importer

# Cells of spaces keep Arrow from typing beds, ratio, admitted and code; rows 2, 4 and 6
# repeat rows 1, 3 and 5 once trimmed (6 is even an exact copy in the file).
MESSY = (
    b"ward,beds,ratio,admitted,code,note\n"
    b" north ,12,0.5,2024-01-05,007,ok\n"
    b"north,12,0.5,2024-01-05,007,ok \n"
    b"south,  ,1.25,2024-02-01 10:30:00,012,\n"
    b'south,  ,1.25,2024-02-01 10:30:00,012,"  "\n'
    b"east,7,  ,  ,  ,n/a\n"
    b"east,7,  ,  ,  ,n/a\n"
)


def table_rows(engine: Engine, name: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        statement = text(f'SELECT * FROM analytics."{name}" ORDER BY 1')  # noqa: S608 - names from the test
        return [tuple(row) for row in connection.execute(statement)]


def column_types(engine: Engine, name: str) -> dict[str, str]:
    with engine.connect() as connection:
        return {column.name: column.data_type for column in datasets.get_columns(connection, name)}


def test_clean_trims_drops_duplicates_and_types_columns(load: Importer, engine: Engine) -> None:
    load("wards", "wards.csv", MESSY)
    assert set(column_types(engine, "wards").values()) == {"text"}

    outcome = cleaning.clean_dataset(engine, "wards")

    assert outcome.model_dump(mode="json") == {
        "dataset": "wards",
        "rows_before": 6,
        "rows_after": 3,
        "duplicates_dropped": 3,
        # ward 1, beds 2, ratio 2, admitted 2, code 2, note 2 (a trailing space and a cell of spaces)
        "cells_trimmed": 11,
        "columns_coerced": {"beds": "bigint", "ratio": "numeric", "admitted": "timestamptz"},
        "data_version": 2,
        "changed": True,
    }
    # Leading zeros keep code as text: as a number it would lose them.
    assert column_types(engine, "wards") == {
        "ward": "text",
        "beds": "bigint",
        "ratio": "numeric",
        "admitted": "timestamptz",
        "code": "text",
        "note": "text",
    }
    assert table_rows(engine, "wards") == [
        ("east", 7, None, None, None, "n/a"),
        ("north", 12, Decimal("0.5"), datetime(2024, 1, 5, tzinfo=UTC), "007", "ok"),
        ("south", None, Decimal("1.25"), datetime(2024, 2, 1, 10, 30, tzinfo=UTC), "012", None),
    ]
    with engine.connect() as connection:
        summary = datasets.get_dataset(connection, "wards")
    assert (summary.row_count, summary.data_version) == (3, 2)


def test_a_second_clean_changes_nothing(load: Importer, engine: Engine) -> None:
    load("wards", "wards.csv", MESSY)
    first = cleaning.clean_dataset(engine, "wards")
    rows = table_rows(engine, "wards")

    second = cleaning.clean_dataset(engine, "wards")

    assert second.model_dump(mode="json") == {
        "dataset": "wards",
        "rows_before": 3,
        "rows_after": 3,
        "duplicates_dropped": 0,
        "cells_trimmed": 0,
        "columns_coerced": {},
        # Nothing changed, so the data_version (and every cached answer) stays.
        "data_version": first.data_version,
        "changed": False,
    }
    assert table_rows(engine, "wards") == rows
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'analytics'")).scalars()
        assert list(tables) == ["wards"]  # the unused staging table is gone


def test_values_that_only_look_typed_keep_the_column_text(load: Importer, engine: Engine) -> None:
    content = (
        b"seen,big,mixed\n"
        b"2024-02-30,9999999999999999999,1\n"  # no such day; over the largest bigint
        b"2024-03-01,1,x\n"
        b"  ,  ,  \n"
    )
    load("odd", "odd.csv", content)

    outcome = cleaning.clean_dataset(engine, "odd")

    # A date pattern does not make a date: PostgreSQL must accept the cast of every value.
    # Past 18 digits a whole number is numeric: exact, where bigint would overflow.
    assert outcome.columns_coerced == {"big": "numeric"}
    assert column_types(engine, "odd") == {"seen": "text", "big": "numeric", "mixed": "text"}
    assert outcome.cells_trimmed == 3 and outcome.rows_after == 3


def test_flags_roles_and_rollups_survive_a_clean(load: Importer, engine: Engine) -> None:
    content = b"day,ward,beds\n2024-01-01, a ,1\n2024-01-01,a,1\n2024-01-02,b,  \n2024-02-01,b,3\n"
    load("daily", "daily.csv", content)
    with engine.begin() as connection:
        datasets.update_columns(
            connection,
            "daily",
            [datasets.ColumnChange("ward", role="dimension", phi=True), datasets.ColumnChange("beds", phi=True)],
        )
        definition = metrics.MetricDefinition(
            name="ward_days", dataset="daily", aggregation="count", time_column="day", dimensions=["ward"]
        )
        metrics.create_metric(connection, definition, None, "UTC", phi_allowed=True)
    rollups.refresh_stale(engine, "daily")

    outcome = cleaning.clean_dataset(engine, "daily")

    assert (outcome.rows_after, outcome.duplicates_dropped, outcome.columns_coerced) == (3, 1, {"beds": "bigint"})
    with engine.connect() as connection:
        columns = {column.name: column for column in datasets.get_columns(connection, "daily")}
        assert (columns["ward"].role, columns["ward"].phi) == ("dimension", True)
        # beds is a number now, so a measure, and still PHI.
        assert (columns["beds"].data_type, columns["beds"].role, columns["beds"].phi) == ("bigint", "measure", True)
        views = rollups.rollups_of(connection, "daily")
    # The replace dropped the views with the table and built them again, empty until refreshed.
    assert len(views) == 2 and all(view.data_version is None for view in views)
    refreshed = rollups.refresh_stale(engine, "daily")
    assert {item["data_version"] for item in refreshed} == {outcome.data_version}
    assert table_rows(engine, "daily") == [
        (date(2024, 1, 1), "a", 1),
        (date(2024, 1, 2), "b", None),
        (date(2024, 2, 1), "b", 3),
    ]


def test_clean_of_a_missing_or_misnamed_dataset(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="no dataset named 'nowhere'"):
        cleaning.clean_dataset(engine, "nowhere")
    with pytest.raises(InvalidInputError, match="is not a plain identifier"):
        cleaning.clean_dataset(engine, 'x"; DROP TABLE bi.users; --')
