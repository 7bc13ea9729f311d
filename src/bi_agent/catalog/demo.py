"""The demo dataset seeded on the first start: two years of synthetic hospital visits.

Generated here, deterministically (the same seed gives the same rows on every machine),
so the product has something to show without a download. Names, MRNs, birth dates and
ZIP codes are invented, and flagged as PHI so HIPAA mode has something to protect.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, text

from bi_agent.catalog import dashboards, datasets, kpis, metrics, rollups
from bi_agent.catalog.imports import ImportOutcome, import_local_file
from bi_agent.catalog.query_spec import Filter
from bi_agent.security.permissions import load_principal

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DATASET = "hospital_visits"
FLAG = "demo_seeded"
PHI_COLUMNS = ("patient_name", "mrn", "date_of_birth", "zip_code")
# The demo's rows decode to a few megabytes: the bound on what an upload expands to is no concern here.
DEMO_MAX_DECODED_BYTES = 256 << 20

REGIONS = {"north": 1.2, "south": 1.0, "east": 0.8, "west": 0.9}
DEPARTMENTS = {
    "emergency": (1_200, 1),
    "cardiology": (9_500, 4),
    "oncology": (14_000, 3),
    "orthopedics": (11_000, 3),
    "pediatrics": (2_400, 1),
    "maternity": (7_800, 2),
}
PAYERS = ("medicare", "medicaid", "private", "self_pay")
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonah", "Kira", "Luis")
LAST_NAMES = ("Okafor", "Smith", "Nguyen", "Garcia", "Kowalski", "Haddad", "Jensen", "Moreau", "Tanaka", "Rossi")


DIMENSIONS = ["region", "department", "payer"]
DEMO_METRICS = [
    metrics.MetricDefinition(
        name="visits",
        dataset=DATASET,
        aggregation="count",
        time_column="visit_date",
        dimensions=DIMENSIONS,
        description="Hospital visits",
    ),
    metrics.MetricDefinition(
        name="total_charges",
        dataset=DATASET,
        aggregation="sum",
        column="charges",
        time_column="visit_date",
        dimensions=DIMENSIONS,
        description="Charges billed, in dollars",
        format="currency",
    ),
    metrics.MetricDefinition(
        name="avg_length_of_stay",
        dataset=DATASET,
        aggregation="avg",
        column="length_of_stay",
        time_column="visit_date",
        dimensions=DIMENSIONS,
        description="Average length of stay, in days",
        format="0.00",
    ),
    metrics.MetricDefinition(
        name="readmissions",
        dataset=DATASET,
        aggregation="count",
        time_column="visit_date",
        dimensions=DIMENSIONS,
        filters=[Filter(dimension="readmitted", op="eq", value=True)],
        description="Visits that were readmissions",
    ),
]


def visits_table(rows: int = 60_000, seed: int = 20240101) -> pa.Table:
    generator = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    start = datetime(2024, 1, 1, tzinfo=UTC)
    span_seconds = int(timedelta(days=730).total_seconds())
    columns: dict[str, list[object]] = {
        name: []
        for name in (
            "admitted_at",
            "visit_date",
            "region",
            "department",
            "payer",
            "charges",
            "length_of_stay",
            "age",
            "readmitted",
            "patient_name",
            "mrn",
            "date_of_birth",
            "zip_code",
        )
    }
    departments = list(DEPARTMENTS)
    for _ in range(rows):
        admitted = start + timedelta(seconds=generator.randrange(span_seconds))
        region = generator.choices(list(REGIONS), weights=list(REGIONS.values()))[0]
        department = generator.choice(departments)
        base_charge, base_stay = DEPARTMENTS[department]
        # Winter is busier and dearer: a seasonal swing makes the charts worth looking at.
        season = 1.0 + 0.15 * (admitted.month in (12, 1, 2))
        age = min(99, max(0, int(generator.gauss(52, 21)))) if department != "pediatrics" else generator.randrange(17)
        stay = max(0, int(generator.expovariate(1 / base_stay)))
        columns["admitted_at"].append(admitted)
        columns["visit_date"].append(admitted.date())
        columns["region"].append(region)
        columns["department"].append(department)
        columns["payer"].append(generator.choice(PAYERS))
        columns["charges"].append(Decimal(f"{base_charge * season * generator.lognormvariate(0, 0.35):.2f}"))
        columns["length_of_stay"].append(stay)
        columns["age"].append(age)
        columns["readmitted"].append(generator.random() < 0.08 + 0.01 * stay)
        columns["patient_name"].append(f"{generator.choice(FIRST_NAMES)} {generator.choice(LAST_NAMES)}")
        columns["mrn"].append(f"MRN{generator.randrange(10**7):07d}")
        columns["date_of_birth"].append(admitted.date() - timedelta(days=365 * age + generator.randrange(365)))
        columns["zip_code"].append(f"{generator.randrange(10**5):05d}")
    schema = pa.schema(
        [
            ("admitted_at", pa.timestamp("us", tz="UTC")),
            ("visit_date", pa.date32()),
            ("region", pa.string()),
            ("department", pa.string()),
            ("payer", pa.string()),
            ("charges", pa.decimal128(12, 2)),  # money: numeric, so its sums are exact
            ("length_of_stay", pa.int64()),
            ("age", pa.int64()),
            ("readmitted", pa.bool_()),
            ("patient_name", pa.string()),
            ("mrn", pa.string()),
            ("date_of_birth", pa.date32()),
            ("zip_code", pa.string()),
        ]
    )
    return pa.table(columns, schema=schema)


def _tile(title: str, chart: str, query: dict[str, Any], x: int, y: int, w: int, h: int) -> dict[str, Any]:
    return {"title": title, "chart": chart, "query": query, "layout": {"x": x, "y": y, "w": w, "h": h}}


TWO_YEARS = {"start": "2024-01-01", "end": "2026-01-01"}
DEMO_DASHBOARD = {
    "name": "Hospital operations",
    "description": "Visits, charges, length of stay and readmissions of the demo hospital network",
    "shared_with_roles": ["analyst", "viewer"],
    "tiles": [
        _tile("Visits", "kpi", {"metric": "visits", "grain": "month", **TWO_YEARS}, 0, 0, 3, 2),
        _tile("Charges", "kpi", {"metric": "total_charges", "grain": "month", **TWO_YEARS}, 3, 0, 3, 2),
        _tile("Length of stay", "kpi", {"metric": "avg_length_of_stay", "grain": "month", **TWO_YEARS}, 6, 0, 3, 2),
        _tile("Readmissions", "kpi", {"metric": "readmissions", "grain": "month", **TWO_YEARS}, 9, 0, 3, 2),
        _tile(
            "Visits by region",
            "line",
            {"metric": "visits", "grain": "month", "group_by": ["region"], **TWO_YEARS},
            0,
            2,
            12,
            4,
        ),
        _tile(
            "Charges by department",
            "bar",
            {"metric": "total_charges", "grain": "quarter", "group_by": ["department"], **TWO_YEARS},
            0,
            6,
            6,
            4,
        ),
        _tile(
            "Length of stay by payer",
            "area",
            {"metric": "avg_length_of_stay", "grain": "month", "group_by": ["payer"], **TWO_YEARS},
            6,
            6,
            6,
            4,
        ),
        _tile(
            "Visits and readmissions by department",
            "table",
            {"metrics": ["visits", "readmissions"], "grain": "year", "group_by": ["department"], **TWO_YEARS},
            0,
            10,
            12,
            4,
        ),
    ],
}


def seed_demo(
    engine: Engine,
    s3: S3Client,
    bucket: str,
    max_field_bytes: int,
    timezone: str = "UTC",
    owner: str | None = None,
) -> ImportOutcome | None:
    """Seed once per installation; a deleted demo stays deleted. Returns None when already seeded.

    The dashboard is owned by `owner` (the first admin) and shared with analysts and viewers.
    """
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1 FROM bi.platform_flags WHERE name = :f"), {"f": FLAG}).first():
            return None
    with tempfile.TemporaryDirectory(prefix="bi-agent-demo-") as folder:
        path = Path(folder) / f"{DATASET}.parquet"
        pq.write_table(visits_table(), path)
        outcome = import_local_file(
            engine,
            s3,
            bucket,
            path,
            DATASET,
            "replace",
            max_field_bytes=max_field_bytes,
            # The demo's own Parquet file: what its 60,000 rows decode to, with room to spare.
            max_uncompressed_bytes=DEMO_MAX_DECODED_BYTES,
            timezone=timezone,
        )
    with engine.begin() as connection:
        datasets.update_columns(connection, DATASET, [datasets.ColumnChange(name, phi=True) for name in PHI_COLUMNS])
        for definition in DEMO_METRICS:
            metrics.create_metric(connection, definition, None, timezone, phi_allowed=True)
        owner_id = connection.execute(text("SELECT id FROM bi.users WHERE username = :u"), {"u": owner}).scalar()
        principal = load_principal(connection, owner_id) if owner_id is not None else None
        if principal is not None:
            dashboards.create_dashboard(
                connection, dashboards.DashboardContent.model_validate(DEMO_DASHBOARD), principal
            )
        connection.execute(text("INSERT INTO bi.platform_flags (name) VALUES (:f) ON CONFLICT DO NOTHING"), {"f": FLAG})
    rollups.refresh_stale(engine, DATASET)
    kpis.calculate_all(engine, datetime.now(UTC).date(), timezone)
    return outcome
