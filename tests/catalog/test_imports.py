"""Imports into datasets: formats, types, replace and append, re-sent files, and bad files
that are refused with line and column and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.files import OnError
from bi_agent.errors import InvalidInputError
from tests.catalog.conftest import Importer

VISITS = (
    b"Visit Date,Region,Charges,Length of Stay,Admitted\n"
    b"2024-01-01,north,120.5,3,true\n"
    b"2024-01-02,south,80,1,false\n"
    b"2024-01-02,north,,2,true\n"
)


def table_rows(engine: Engine, name: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        statement = text(f'SELECT * FROM analytics."{name}" ORDER BY 1, 2')  # noqa: S608 - names from the test
        return [tuple(row) for row in connection.execute(statement)]


def catalog_state(engine: Engine) -> tuple[int, int, list[str]]:
    with engine.connect() as connection:
        datasets_count = connection.execute(text("SELECT count(*) FROM bi.datasets")).scalar_one()
        imports_count = connection.execute(text("SELECT count(*) FROM bi.imports")).scalar_one()
        tables = list(
            connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'analytics'")).scalars()
        )
    return datasets_count, imports_count, tables


def test_csv_becomes_a_typed_table(load: Importer, engine: Engine) -> None:
    outcome = load("visits", "visits.csv", VISITS)
    assert (outcome.rows_imported, outcome.data_version, outcome.duplicate) == (3, 1, False)
    with engine.connect() as connection:
        columns = datasets.get_columns(connection, "visits")
    assert [(c.name, c.source_name, c.data_type, c.role) for c in columns] == [
        ("visit_date", "Visit Date", "date", "time"),
        ("region", "Region", "text", "dimension"),
        ("charges", "Charges", "numeric", "measure"),
        ("length_of_stay", "Length of Stay", "bigint", "measure"),
        ("admitted", "Admitted", "boolean", "dimension"),
    ]
    rows = table_rows(engine, "visits")
    assert [row[1:] for row in rows] == [
        ("north", Decimal("120.5"), 3, True),
        ("north", None, 2, True),
        ("south", Decimal("80.0"), 1, False),
    ]


def test_same_content_in_every_format(load: Importer, engine: Engine) -> None:
    records = [{"day": "2024-03-01", "ward": "a", "beds": 4}, {"day": "2024-03-02", "ward": "b", "beds": 7}]
    csv_bytes = b"day,ward,beds\n2024-03-01,a,4\n2024-03-02,b,7\n"
    jsonl = "\n".join(json.dumps(record) for record in records).encode()
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), parquet)
    files = {
        "wards_csv": ("w.csv", csv_bytes),
        "wards_csv_gz": ("w.csv.gz", gzip.compress(csv_bytes)),
        "wards_jsonl": ("w.jsonl", jsonl),
        "wards_jsonl_gz": ("w.ndjson.gz", gzip.compress(jsonl)),
        "wards_parquet": ("w.parquet", parquet.getvalue()),
    }
    for name, (filename, content) in files.items():
        assert load(name, filename, content).rows_imported == 2
        assert [row[1:] for row in table_rows(engine, name)] == [("a", 4), ("b", 7)], name


def test_resent_file_adds_nothing(load: Importer, engine: Engine) -> None:
    first = load("visits", "visits.csv", VISITS, mode="append")
    again = load("visits", "renamed.csv", VISITS, mode="append")
    assert again.duplicate and again.import_id == first.import_id
    assert len(table_rows(engine, "visits")) == 3
    with engine.connect() as connection:
        assert datasets.get_dataset(connection, "visits").data_version == 1


def test_append_adds_rows_and_bumps_version(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", VISITS)
    more = b"Visit Date,Region,Charges,Length of Stay,Admitted\n2024-01-03,east,10,4,false\n"
    outcome = load("visits", "more.csv", more, mode="append")
    assert (outcome.rows_imported, outcome.data_version) == (1, 2)
    assert len(table_rows(engine, "visits")) == 4
    with engine.connect() as connection:
        summary = datasets.get_dataset(connection, "visits")
        assert (summary.row_count, summary.data_version) == (4, 2)
        assert len(datasets.import_history(connection, summary.id)) == 2


def test_replace_swaps_the_table_and_keeps_column_settings(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", VISITS)
    with engine.begin() as connection:
        datasets.update_columns(connection, "visits", [datasets.ColumnChange("region", phi=True)])
    replacement = b"Visit Date,Region,Charges,Length of Stay,Admitted\n2025-05-05,west,1,1,true\n"
    outcome = load("visits", "new.csv", replacement, mode="replace")
    assert outcome.data_version == 2
    assert [row[1] for row in table_rows(engine, "visits")] == ["west"]
    with engine.connect() as connection:
        region = next(c for c in datasets.get_columns(connection, "visits") if c.name == "region")
    assert region.phi is True


def test_append_with_mismatched_schema_names_the_columns(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", VISITS)
    before = table_rows(engine, "visits")
    wrong = b"Visit Date,Region,Cost,Length of Stay,Admitted\n2024-01-03,east,10,4,false\n"
    with pytest.raises(InvalidInputError, match=r"missing columns charges; columns not in the dataset cost"):
        load("visits", "wrong.csv", wrong, mode="append")
    wrong_type = b"Visit Date,Region,Charges,Length of Stay,Admitted\n2024-01-03,east,10,long,false\n"
    with pytest.raises(InvalidInputError, match=r"column length_of_stay is text in the file but bigint in the dataset"):
        load("visits", "wrong_type.csv", wrong_type, mode="append")
    assert table_rows(engine, "visits") == before


BAD_FILES = [
    ("empty.csv", b"", r"empty\.csv: the file is empty"),
    ("header.csv", b"a,b,c\n", r"header\.csv: the file has column names but no rows"),
    ("data.xlsx", b"PK\x03\x04", r"unknown file type '\.xlsx'"),
    ("fake.parquet", b"a,b\n1,2\n", r"fake\.parquet: not a readable Parquet file"),
    ("fake.csv.gz", b"a,b\n1,2\n", r"the name ends in \.gz but the content is not gzip data"),
    ("zipped.csv", gzip.compress(b"a,b\n1,2\n"), r"the content is gzip-compressed; name the file zipped\.csv\.gz"),
    ("binary.csv", b"a,b\n\x00\x01\x02,3\n", r"the content is binary"),
    ("array.jsonl", b'[{"a": 1}]\n', r"line 1 is not a JSON object"),
    ("short.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n", r"short\.csv: line 3: expected 3 fields, found 2"),
    ("latin1.csv", "a,b\n1,ok\n2,caf\xe9\n".encode("latin-1"), r"line 3 is not valid UTF-8"),
    ("dupes.csv", b"Name,name \n1,2\n", r"columns 'Name' and 'name ' both become 'name'"),
    ("long.csv", ("x" * 70 + ",b\n1,2\n").encode(), r"column 1 name is 70 characters long"),
    ("blank.csv", b"a,,c\n1,2,3\n", r"column 2 has no usable name"),
    ("big.csv", b"a,b\n1," + b"x" * (1 << 20) + b"\n", r"row 1, column b: a value of 1048576 bytes is over"),
    ("broken.jsonl", b'{"a": 1}\n{"a": \n', r"broken\.jsonl: line 2 is not a valid JSON object"),
]


@pytest.mark.parametrize(("filename", "content", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_files_are_refused_and_leave_nothing(
    load: Importer, engine: Engine, filename: str, content: bytes, message: str
) -> None:
    load("kept", "kept.csv", b"a\n1\n")
    before = catalog_state(engine)
    with pytest.raises(InvalidInputError, match=message) as caught:
        load("target", filename, content)
    assert "caf" not in str(caught.value)  # values never appear in errors
    assert catalog_state(engine) == before


def test_skip_mode_counts_and_samples_bad_rows(load: Importer, engine: Engine) -> None:
    content = b"a,b\n1,2\n3\n4,5\n6,7,8\n"
    outcome = load("partial", "partial.csv", content, on_error=OnError.SKIP)
    assert (outcome.rows_imported, outcome.rows_skipped) == (2, 2)
    with engine.connect() as connection:
        history = datasets.import_history(connection, datasets.get_dataset(connection, "partial").id)
    assert history[0].model_dump()["skipped_sample"] == [
        {"line": 3, "reason": "expected 2 fields, found 1"},
        {"line": 5, "reason": "expected 2 fields, found 3"},
    ]


def test_late_text_in_a_numeric_column_makes_it_text(load: Importer, engine: Engine) -> None:
    lines = ["code,n"] + [f"{i},{i}" for i in range(200_000)] + ["A12,5"]
    load("codes", "codes.csv", ("\n".join(lines) + "\n").encode())
    with engine.connect() as connection:
        types = {c.name: c.data_type for c in datasets.get_columns(connection, "codes")}
    assert types == {"code": "text", "n": "bigint"}


def test_names_that_are_not_identifiers_are_refused(load: Importer) -> None:
    with pytest.raises(InvalidInputError, match="is not a plain identifier"):
        load("Robert'); DROP TABLE bi.users;--", "x.csv", b"a\n1\n")
