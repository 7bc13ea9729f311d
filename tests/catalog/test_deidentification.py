"""De-identification: the Safe Harbor copy `<name>_deid` holds no identifier of the source,
dates as years, ZIP codes as three digits (000 where few people live), ages over 89 as 90+."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from bi_agent.catalog import datasets, metrics, rollups
from bi_agent.catalog.columns import ColumnSpec, DataType
from bi_agent.catalog.deidentification import Rule, deidentified_name, deidentify_dataset, rule_of
from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from tests.catalog.conftest import Importer

HOSPITAL_VISITS = (
    b"patient_name,mrn,ssn,email,phone,date_of_birth,zip,age,visit_date,department,diagnosis,charges\n"
    b"Ann Smith,MRN0001,123-45-6789,ann@example.org,555-0101,1930-04-02,03601,95,2024-03-05,cardiology,I10,1200.5\n"
    b"Bob Jones,MRN0002,987-65-4321,bob@example.org,555-0102,1984-11-23,10001,40,2024-07-19,oncology,C50,830\n"
    b"Cy Young,MRN0003,111-22-3333,cy@example.org,555-0103,1960-01-15,94110-1234,64,2025-01-02,cardiology,I25,99.9\n"
)
IDENTIFIERS = ("patient_name", "mrn", "ssn", "email", "phone", "date_of_birth", "zip", "diagnosis")
TODAY = date(2025, 6, 1)


def rows_by(engine: Engine, name: str, order: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        statement = text(f'SELECT * FROM analytics."{name}" ORDER BY "{order}"')  # noqa: S608 - names from the test
        return [tuple(row) for row in connection.execute(statement)]


def load_visits(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", HOSPITAL_VISITS)
    flagged = ("patient_name", "mrn", "date_of_birth", "zip", "diagnosis")
    with engine.begin() as connection:
        datasets.update_columns(connection, "visits", [datasets.ColumnChange(name, phi=True) for name in flagged])
        definition = metrics.MetricDefinition(
            name="visits", dataset="visits", aggregation="count", time_column="visit_date", dimensions=["department"]
        )
        metrics.create_metric(connection, definition, None, "UTC", phi_allowed=True)


def test_deidentified_copy_of_hospital_visits(load: Importer, engine: Engine) -> None:
    load_visits(load, engine)

    outcome = deidentify_dataset(engine, "visits", today=TODAY)

    assert outcome.model_dump(mode="json") == {
        "source": "visits",
        "dataset": "visits_deid",
        "row_count": 3,
        "data_version": 1,
        "columns_kept": ["department", "charges"],
        "columns_dropped": {
            "patient_name": Rule.DROP_PHI.value,
            "mrn": Rule.DROP_PHI.value,
            "ssn": Rule.DROP_IDENTIFIER.value,
            "email": Rule.DROP_IDENTIFIER.value,
            "phone": Rule.DROP_IDENTIFIER.value,
            "diagnosis": Rule.DROP_PHI.value,
        },
        "columns_transformed": {
            "date_of_birth": Rule.BIRTH_YEAR.value,
            "zip": Rule.ZIP3.value,
            "age": Rule.AGE.value,
            "visit_date": Rule.YEAR.value,
        },
        "notes": [
            "birth years that imply an age over 89 are null in date_of_birth",
            "dates are years, so the metrics of visits are not copied",
        ],
    }
    # 1930 implies an age over 89 in 2025; 036 is a ZIP area of few people; 95 is over 89.
    assert rows_by(engine, "visits_deid", "charges") == [
        (1960, "941", "64", 2025, "cardiology", Decimal("99.9")),
        (1984, "100", "40", 2024, "oncology", 830.0),
        (None, "000", "90+", 2024, "cardiology", Decimal("1200.5")),
    ]
    with engine.connect() as connection:
        columns = datasets.get_columns(connection, "visits_deid")
        summary = datasets.get_dataset(connection, "visits_deid")
        copied_metrics = metrics.metrics_of_dataset(connection, "visits_deid")
        views = rollups.rollups_of(connection, "visits_deid")
    assert [(c.name, c.data_type, c.role, c.phi) for c in columns] == [
        ("date_of_birth", "bigint", "dimension", False),
        ("zip", "text", "dimension", False),
        ("age", "text", "dimension", False),
        ("visit_date", "bigint", "dimension", False),
        ("department", "text", "dimension", False),
        ("charges", "numeric", "measure", False),
    ]
    assert summary.description == "HIPAA Safe Harbor de-identified copy of visits"
    assert copied_metrics == [] and views == []

    again = deidentify_dataset(engine, "visits", today=TODAY)
    assert (again.data_version, again.row_count) == (2, 3)


def test_no_identifier_of_the_source_is_anywhere_in_the_copy(load: Importer, engine: Engine) -> None:
    load_visits(load, engine)
    deidentify_dataset(engine, "visits", today=TODAY)
    with engine.connect() as connection:
        originals = {
            value
            for column in IDENTIFIERS
            for value in connection.execute(
                text(f'SELECT CAST("{column}" AS text) FROM analytics.visits')  # noqa: S608 - names from the test
            ).scalars()
        }
        copied_rows = list(connection.execute(text("SELECT CAST(t AS text) FROM analytics.visits_deid t")).scalars())
        copied_cells = {
            str(value) for row in connection.execute(text("SELECT * FROM analytics.visits_deid")) for value in row
        }
    assert len(originals) == 3 * len(IDENTIFIERS)
    for value in originals:
        assert value not in copied_cells
        assert not any(value in row for row in copied_rows), f"an identifier of the source is in the copy: {value}"


def test_numeric_zip_codes_text_ages_and_timestamps(load: Importer, engine: Engine) -> None:
    # A CSV keeps a ZIP code's zeros as text; a Parquet file's writer may have made it a number.
    table = pa.table(
        {
            "admitted_at": pa.array(
                [datetime(2024, 12, 31, 23, 30), datetime(2024, 6, 1, 12), datetime(2024, 6, 2, 12)],
                pa.timestamp("s", tz="UTC"),
            ),
            "zip_code": pa.array([3601, 10001, 501], pa.int64()),
            "patient_age": ["95", "unknown", "89"],
            "score": pa.array([1, 2, 3], pa.int64()),
        }
    )
    content = io.BytesIO()
    pq.write_table(table, content)
    load("stays", "stays.parquet", content.getvalue())
    with engine.connect() as connection:
        types = [column.data_type for column in datasets.get_columns(connection, "stays")]
    assert types == ["timestamptz", "bigint", "text", "bigint"]  # the ZIP codes lost their leading zeros

    outcome = deidentify_dataset(engine, "stays", timezone="Asia/Tokyo", today=TODAY)

    assert outcome.columns_transformed == {
        "admitted_at": Rule.YEAR.value,
        "zip_code": Rule.ZIP3.value,
        "patient_age": Rule.AGE.value,
    }
    # The year is the reporting time zone's; a ZIP code's zeros come back; text that is no age is NULL.
    assert rows_by(engine, "stays_deid", "score") == [
        (2025, "000", "90+", 1),
        (2024, "100", None, 2),
        (2024, "005", "89", 3),
    ]


def column(name: str, data_type: DataType = "text", phi: bool = False) -> ColumnSpec:
    return ColumnSpec(name, name, data_type, "dimension", phi)


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (column("first_name"), Rule.DROP_IDENTIFIER),
        (column("surname"), Rule.DROP_IDENTIFIER),
        (column("username"), Rule.DROP_IDENTIFIER),
        (column("medical_record_number"), Rule.DROP_IDENTIFIER),
        (column("mrn", "bigint"), Rule.DROP_IDENTIFIER),
        (column("social_security_number"), Rule.DROP_IDENTIFIER),
        (column("e_mail"), Rule.DROP_IDENTIFIER),
        (column("mobile"), Rule.DROP_IDENTIFIER),
        (column("fax_number"), Rule.DROP_IDENTIFIER),
        (column("home_address"), Rule.DROP_IDENTIFIER),
        (column("street"), Rule.DROP_IDENTIFIER),
        (column("city"), Rule.DROP_IDENTIFIER),
        (column("account_number", "bigint"), Rule.DROP_IDENTIFIER),
        (column("drivers_license"), Rule.DROP_IDENTIFIER),
        (column("vehicle_id"), Rule.DROP_IDENTIFIER),
        (column("device_serial"), Rule.DROP_IDENTIFIER),
        (column("website_url"), Rule.DROP_IDENTIFIER),
        (column("ip_address"), Rule.DROP_IDENTIFIER),
        (column("health_plan_beneficiary_number"), Rule.DROP_IDENTIFIER),
        (column("birth_certificate"), Rule.DROP_IDENTIFIER),
        (column("photo"), Rule.DROP_IDENTIFIER),
        (column("biometric_template"), Rule.DROP_IDENTIFIER),
        (column("diagnosis", phi=True), Rule.DROP_PHI),
        (column("discharge_date"), Rule.DROP_DATE_NAME),
        (column("birth_year", "bigint"), Rule.DROP_DATE_NAME),
        (column("dob", "date", phi=True), Rule.BIRTH_YEAR),
        (column("birth_date", "timestamptz"), Rule.BIRTH_YEAR),
        (column("created_at", "timestamptz"), Rule.YEAR),
        (column("visit_day", "date"), Rule.YEAR),
        (column("postal_code", phi=True), Rule.ZIP3),
        (column("zip", "bigint"), Rule.ZIP3),
        (column("age", "double precision"), Rule.AGE),
        (column("mother_age", "bigint"), Rule.AGE),
        (column("age_at_admission", "bigint"), Rule.AGE),
        (column("age_group"), Rule.KEEP),
        (column("page_views", "bigint"), Rule.KEEP),
        (column("department"), Rule.KEEP),
        (column("renamed"), Rule.KEEP),
        (column("zip_verified", "boolean"), Rule.KEEP),
    ],
    ids=lambda value: value.name if isinstance(value, ColumnSpec) else "",
)
def test_rule_of_each_column(spec: ColumnSpec, rule: Rule) -> None:
    assert rule_of(spec) is rule


def test_copy_name_must_stay_an_identifier(engine: Engine) -> None:
    assert deidentified_name("v" * 58) == "v" * 58 + "_deid"
    with pytest.raises(InvalidInputError, match=r"too long for a de-identified copy: .* 64 characters, over the limit"):
        deidentify_dataset(engine, "v" * 59)
    with pytest.raises(InvalidInputError, match="is not a plain identifier"):
        deidentify_dataset(engine, "Visits")
    with pytest.raises(NotFoundError, match="no dataset named 'nowhere'"):
        deidentify_dataset(engine, "nowhere")


def test_a_loaded_dataset_is_never_overwritten_and_a_copy_is_never_empty(load: Importer, engine: Engine) -> None:
    load("visits", "visits.csv", HOSPITAL_VISITS)
    load("visits_deid", "mine.csv", b"department,charges\ncardiology,1\n")
    with pytest.raises(ConflictError, match="visits_deid was loaded from files"):
        deidentify_dataset(engine, "visits")
    with engine.connect() as connection:
        assert datasets.get_dataset(connection, "visits_deid").row_count == 1

    load("contacts", "contacts.csv", b"name,email\nAnn,ann@example.org\n")
    with pytest.raises(InvalidInputError, match="every column is an identifier"):
        deidentify_dataset(engine, "contacts")
