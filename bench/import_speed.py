"""Import speed: a 1,000,000-row CSV, file to queryable, against COPY of the same file.

Run: .venv/bin/python bench/import_speed.py [--rows N] [--database-url URL]
Needs `bi-agent up` running (embedded servers) or DATABASE_URL/REDIS_URL/MINIO_ENDPOINT.
Prints both times and their ratio; the target is at most 2.0.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import make_url, text

from bi_agent.catalog.imports import import_local_file
from bi_agent.infra.connections import Connections
from bi_agent.infra.objects import ensure_buckets
from bi_agent.settings import Settings

COLUMNS = "visit_time,region,department,payer,charges,length_of_stay,patient_name"


def make_csv(path: Path, rows: int) -> None:
    generator = random.Random(7)  # noqa: S311 - synthetic data, not secrets
    regions = ["north", "south", "east", "west"]
    departments = ["cardiology", "oncology", "emergency", "pediatrics", "orthopedics"]
    start = datetime(2024, 1, 1)
    with path.open("w") as out:
        out.write(COLUMNS + "\n")
        for index in range(rows):
            moment = start + timedelta(seconds=index * 63)
            out.write(
                f"{moment:%Y-%m-%d %H:%M:%S},{generator.choice(regions)},{generator.choice(departments)},"
                f"payer{generator.randint(1, 9)},{generator.random() * 5000:.2f},{generator.randint(0, 30)},"
                f"Patient {generator.randint(1, 99999)}\n"
            )


def baseline_copy(settings: Settings, path: Path) -> float:
    """psql's \\copy (or psycopg's COPY where psql is missing) into a table of the same types."""
    url = make_url(str(settings.postgres_url())).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.bench_copy_baseline")
        connection.execute(
            "CREATE TABLE public.bench_copy_baseline (visit_time timestamptz, region text, department text, "
            "payer text, charges numeric, length_of_stay bigint, patient_name text)"
        )
    started = time.perf_counter()
    psql = shutil.which("psql")
    if psql:
        subprocess.run(
            [psql, conninfo, "-q", "-c", f"\\copy public.bench_copy_baseline FROM '{path}' WITH (FORMAT csv, HEADER)"],
            check=True,
        )
    else:
        statement = "COPY public.bench_copy_baseline FROM STDIN (FORMAT csv, HEADER)"
        with (
            psycopg.connect(conninfo) as connection,
            connection.cursor() as cursor,
            cursor.copy(statement) as copy,
            path.open("rb") as source,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
    elapsed = time.perf_counter() - started
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("DROP TABLE public.bench_copy_baseline")
    return elapsed


def platform_import(settings: Settings, path: Path) -> float:
    """`bi-agent import`'s path: hash, keep the original in S3, read and check, COPY, swap, commit."""
    connections = Connections.open(settings)
    ensure_buckets(connections.s3, settings.buckets)
    # Warm the object store once: SeaweedFS allocates its first volume on the first write.
    connections.s3.put_object(Bucket=settings.minio_bucket_logs, Key="bench-warm-up", Body=b"x")
    with connections.engine.begin() as connection:
        # Each run is a first import: the file's hash is forgotten with the dataset.
        connection.execute(text("DELETE FROM bi.datasets WHERE name = 'bench_import'"))
        connection.execute(text("DROP TABLE IF EXISTS analytics.bench_import"))
    started = time.perf_counter()
    outcome = import_local_file(
        connections.engine,
        connections.s3,
        settings.minio_bucket_datasets,
        path,
        "bench_import",
        "replace",
        max_field_bytes=settings.import_max_field_bytes,
        max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
    )
    with connections.engine.connect() as connection:
        counted = connection.execute(text("SELECT count(*) FROM analytics.bench_import")).scalar_one()
    elapsed = time.perf_counter() - started
    assert counted == outcome.rows_imported and not outcome.duplicate
    connections.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the medians are compared")
    arguments = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "visits.csv"
        make_csv(path, arguments.rows)
        size_mb = path.stat().st_size / 1e6
        copy_seconds = statistics.median(baseline_copy(settings, path) for _ in range(arguments.repeat))
        import_seconds = statistics.median(platform_import(settings, path) for _ in range(arguments.repeat))
    print(f"rows={arguments.rows} file={size_mb:.1f} MB")
    print(f"baseline COPY      {copy_seconds:.2f} s (median of {arguments.repeat})")
    print(f"bi-agent import    {import_seconds:.2f} s (hash, original to S3, read and check, COPY, swap)")
    print(f"ratio              {import_seconds / copy_seconds:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
