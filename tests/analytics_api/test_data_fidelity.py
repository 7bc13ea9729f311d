"""Every value round-trips and nothing is cut or folded silently: codes keep their leading
zeros, money stays exact, an export gives the file's values back, a broken quote or a file
wider than a table is refused in the request, and a result cut at its limit says so."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from tests.analytics_api.conftest import Api, upload, wait_for_job

# The Redis flavour does not matter here; both PostgreSQL versions do.
pytestmark = pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)

HEADER = ["Mixed", "ZIP", "Code", "Zero", "Money", "Sci", "Plus", "Thousands", "Member ID", "Dose", "Visit Date"]
ROWS = [
    ["05415", "05415", "00123", "0", "0.50", "1e3", "+1", "1,234", "100234", "0.125", "2025-03-01"],
    ["00123", "90210", "00999", "0", "12.25", "2.5", "-3", "2,000", "100777", "1.5", "2025-03-02"],
    ["0", "10001", "01000", "0", "7407679.13", "-1.5e-3", "+12", "12", "100001", "2", "2025-03-03"],
    ["0.50", "00501", "12345", "0", "0.01", "0.000001", "7", "1,000,000", "200002", "0.0005", "2025-03-04"],
    ["1e3", "99950", "54321", "0", "0.10", "1E3", "0", "5", "300003", "10", "2025-03-05"],
    ["+1", "02134", "00000", "0", "0.20", "3.14159", "-0", "1,5", "400004", "0.3", "2025-03-06"],
    ["1,234", "60601", "77777", "0", "-0.30", "1e-7", "+100", "x", "500005", "7.25", "2025-03-07"],
]
TYPES = {
    "mixed": "text",
    "zip": "text",
    "code": "text",
    "zero": "bigint",
    "money": "numeric",
    "sci": "double precision",
    "plus": "bigint",
    "thousands": "text",
    "member_id": "text",
    "dose": "numeric",
    "visit_date": "date",
}


def quoted_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def test_values_round_trip_through_import_and_export(api: Api, worker: None) -> None:
    job = wait_for_job(api, upload(api, "claims", "claims.csv", quoted_csv(HEADER, ROWS)).json()["job_id"])
    assert job["state"] == "SUCCESS", job
    detail = api.client.get("/api/v1/datasets/claims", headers=api.headers("viewer")).json()
    assert {column["name"]: column["type"] for column in detail["columns"]} == TYPES

    exported = api.client.get("/api/v1/datasets/claims/export", headers=api.headers("viewer"))
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(exported.text)))
    assert header == HEADER
    assert len(rows) == len(ROWS)
    for got, sent in zip(rows, ROWS, strict=True):
        for name, value, original in zip(TYPES, got, sent, strict=True):
            if TYPES[name] in ("text", "date"):
                assert value == original, name  # as text: exactly the file's
            elif TYPES[name] == "double precision":
                assert float(value) == float(original), name
            else:  # exact numbers keep their value, and numeric its written scale
                assert Decimal(value) == Decimal(original), name
                if TYPES[name] == "numeric":
                    assert value == original.lstrip("+"), name

    # Exact sums: the same query over numeric money gives the same, exact total every time.
    metric = {"name": "money_total", "dataset": "claims", "aggregation": "sum", "column": "money",
              "time_column": "visit_date", "dimensions": []}  # fmt: skip
    assert api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=metric).status_code == 201
    query = {"metric": "money_total", "grain": "year", "start": "2025-01-01", "end": "2026-01-01"}
    totals = {
        api.client.post("/api/v1/query", headers=api.headers("viewer"), json=query).json()["rows"][0][1]
        for _ in range(3)
    }
    assert totals == {float(sum(Decimal(row[4]) for row in ROWS))}


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'a,b\n1,"abc\n2,3\n4,5\n', 2),  # never closed: Arrow would close it at the end of the file
        (b'a,b\n5",x\n1,"abc\n2,3\n', 3),  # a stray quote first makes the count of quotes even
        (b'a,b\n1,"abc\n2,"def\n3,4\n', 2),  # "closed" by the next line's opening quote
    ],
)
def test_a_quote_that_folds_lines_is_refused_naming_its_line(api: Api, content: bytes, line: int) -> None:
    response = upload(api, "broken", "broken.csv", content)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert f"line {line}: a quoted field opens here" in problem["detail"], problem["detail"]
    assert problem["errors"][0]["line"] == line


def test_quotes_that_fold_nothing_are_taken(api: Api) -> None:
    # A quote inside an unquoted field is a character, and a closed one may span lines.
    fine = upload(api, "fine", "fine.csv", b'a,b\n1,5" pipe\n2,"multi\nline"\n3,"x""y"\n')
    assert fine.status_code == 202, fine.text


def test_a_file_wider_than_a_table_is_refused_in_the_request(api: Api) -> None:
    header = ",".join(f"c{i}" for i in range(1601)).encode()
    response = upload(api, "wide", "wide.csv", header + b"\n" + b",".join([b"1"] * 1601) + b"\n")
    assert response.status_code == 422, response.text
    assert "1601 columns" in response.json()["detail"] and "1600" in response.json()["detail"]


def test_a_result_past_its_limit_says_it_was_cut(api: Api, worker: None) -> None:
    days = "".join(f"2025-03-{day:02d},{day}\n" for day in range(1, 21)).encode()
    job = wait_for_job(api, upload(api, "daily", "daily.csv", b"day,n\n" + days).json()["job_id"])
    assert job["state"] == "SUCCESS", job
    metric = {"name": "n_total", "dataset": "daily", "aggregation": "sum", "column": "n", "time_column": "day",
              "dimensions": []}  # fmt: skip
    assert api.client.post("/api/v1/metrics", headers=api.headers("analyst"), json=metric).status_code == 201
    query = {"metric": "n_total", "grain": "day", "start": "2025-03-01", "end": "2025-04-01"}
    for attempt in ("MISS", "HIT"):
        cut = api.client.post("/api/v1/query", headers=api.headers("viewer"), json={**query, "limit": 5})
        body = cut.json()
        assert (cut.headers["X-Cache"], cut.headers["X-Result-Truncated"]) == (attempt, "true")
        assert (body["truncated"], body["limit"], len(body["rows"])) == (True, 5, 5)
        assert [row[1] for row in body["rows"]] == [1, 2, 3, 4, 5]
    whole = api.client.post("/api/v1/query", headers=api.headers("viewer"), json={**query, "limit": 20})
    assert (whole.headers["X-Result-Truncated"], whole.json()["truncated"], len(whole.json()["rows"])) == (
        "false",
        False,
        20,
    )
