"""Profiles: nulls, distinct, min, max and histograms per column, PHI values never shown."""

from __future__ import annotations

from sqlalchemy import Engine

from bi_agent.catalog import datasets, profiles
from tests.catalog.conftest import Importer

ROWS = (
    "day,ward,beds,ratio,open,patient\n"
    "2024-01-05,a,1,0.5,true,Ann\n"
    "2024-01-20,a,5,,false,Bob\n"
    "2024-02-03,b,10,1.5,true,Ann\n"
    "2024-03-01,,10,2.5,,Cy\n"
)


def test_profile_of_every_column(load: Importer, engine: Engine) -> None:
    load("wards", "wards.csv", ROWS.encode())
    with engine.begin() as connection:
        datasets.update_columns(connection, "wards", [datasets.ColumnChange("patient", phi=True)])
    profile = profiles.compute_profile(engine, "wards")
    columns = {column["name"]: column for column in profile["columns"]}
    assert profile["row_count"] == 4
    assert columns["beds"] | {"histogram": None} == {
        "name": "beds",
        "type": "bigint",
        "role": "measure",
        "phi": False,
        "nulls": 0,
        "distinct": 3,
        "min": 1,
        "max": 10,
        "histogram": None,
    }
    assert sum(bin_["count"] for bin_ in columns["beds"]["histogram"]) == 4
    assert columns["beds"]["histogram"][-1] == {"from": 9.1, "to": 10.0, "count": 2}
    assert columns["ratio"]["nulls"] == 1
    assert columns["ward"]["histogram"] == [{"value": "a", "count": 2}, {"value": "b", "count": 1}]
    assert columns["day"]["histogram"] == [
        {"month": "2024-01-01", "count": 2},
        {"month": "2024-02-01", "count": 1},
        {"month": "2024-03-01", "count": 1},
    ]
    assert columns["open"]["nulls"] == 1 and columns["open"]["distinct"] == 2
    # A PHI column shows counts, never its values.
    assert columns["patient"]["distinct"] == 3
    assert "min" not in columns["patient"] and columns["patient"]["histogram"] == []
    assert "Ann" not in str(profile)

    with engine.connect() as connection:
        stored = profiles.stored_profile(connection, "wards").model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert stored["stale"] is False and stored["columns"] == profile["columns"]
    load("wards", "more.csv", b"day,ward,beds,ratio,open,patient\n2024-04-01,c,2,1,true,Di\n", mode="append")
    with engine.connect() as connection:
        assert profiles.stored_profile(connection, "wards").stale is True
