"""Query speed: the same query from the rollup (daily or monthly view) against the table, at 1,000,000 rows.

Run: .venv/bin/python -m bench.query_speed [--rows N] [--repeat N] [--dimensions a,b,c]
Needs `bi-agent up` running (embedded servers) or DATABASE_URL/REDIS_URL/MINIO_ENDPOINT.
Imports the rows into dataset `bench_queries` (a re-run with the same rows reuses them),
defines three metrics on it, refreshes their rollup and analyzes both. For each query,
both paths must give the same rows; then both times are printed with their ratio; the
target is at least 10. Last, what `numeric` costs: the import stores charges (two decimals)
as numeric, so sums are exact; the same aggregation over a copy with charges as double
precision is timed beside it (no target: the price of exact sums, said in the README).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench.import_speed import make_csv
from psycopg import sql
from sqlalchemy import Connection, text

from bi_agent.catalog import queries, rollups
from bi_agent.catalog.imports import import_local_file
from bi_agent.catalog.metrics import MetricDefinition, create_metric, delete_metric
from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.errors import InvalidInputError
from bi_agent.infra.connections import Connections
from bi_agent.infra.objects import ensure_buckets
from bi_agent.security.read_scope import ReadScope
from bi_agent.settings import Settings

DATASET = "bench_queries"


def metric_definitions(dimensions: list[str]) -> list[MetricDefinition]:
    common: dict[str, Any] = {"dataset": DATASET, "time_column": "visit_time", "dimensions": dimensions}
    return [
        MetricDefinition(name="bench_q_visits", aggregation="count", **common),
        MetricDefinition(name="bench_q_charges", aggregation="sum", column="charges", **common),
        MetricDefinition(name="bench_q_stay", aggregation="avg", column="length_of_stay", **common),
    ]


METRIC_NAMES = [definition.name for definition in metric_definitions([])]
# make_csv spaces rows 63 s apart from 2024-01-01: 1,000,000 rows reach into December 2025,
# so 2024 is a full year of about 500,000 rows.
QUERIES = {
    "month x region, 2024": QuerySpec(
        metrics=METRIC_NAMES, grain="month", start=date(2024, 1, 1), end=date(2025, 1, 1), group_by=["region"]
    ),
    "day x region x department, 2024": QuerySpec(
        metrics=METRIC_NAMES,
        grain="day",
        start=date(2024, 1, 1),
        end=date(2025, 1, 1),
        group_by=["region", "department"],
    ),
}
TARGET = 10.0


def prepare(settings: Settings, rows: int, dimensions: list[str]) -> None:
    """The dataset through the product's import, the metrics, and a freshly filled rollup."""
    connections = Connections.open(settings)
    ensure_buckets(connections.s3, settings.buckets)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "visits.csv"
        make_csv(path, rows)
        outcome = import_local_file(
            connections.engine,
            connections.s3,
            settings.minio_bucket_datasets,
            path,
            DATASET,
            "replace",
            max_field_bytes=settings.import_max_field_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
            timezone=settings.reporting_timezone,
        )
    print(f"dataset {DATASET}: {outcome.rows_imported} rows ({'reused' if outcome.duplicate else 'imported'})")
    with connections.engine.begin() as connection:
        # Defined afresh on every run, so the rollup always matches the definitions above.
        existing = connection.execute(
            text("SELECT name FROM bi.metrics WHERE name = ANY(:names)"), {"names": METRIC_NAMES}
        ).scalars()
        for name in list(existing):
            delete_metric(connection, name, settings.reporting_timezone)
        for definition in metric_definitions(dimensions):
            create_metric(connection, definition, None, settings.reporting_timezone, phi_allowed=True)
    started = time.perf_counter()
    rollups.refresh_stale(connections.engine, DATASET)
    print(f"rollup refreshed in {time.perf_counter() - started:.1f} s")
    with connections.engine.begin() as connection:
        # Autovacuum would within a minute; until then the planner guesses a new view's size
        # and picks a slower plan (the README tells by how much).
        raw = connection.connection.driver_connection
        assert raw is not None
        for name in [DATASET, *(rollup.view_name for rollup in rollups.rollups_of(connection, DATASET))]:
            raw.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier("analytics"), sql.Identifier(name)))
    connections.close()


def same_rows(left: list[list[Any]], right: list[list[Any]]) -> bool:
    if len(left) != len(right):
        return False
    for row_left, row_right in zip(left, right, strict=True):
        for a, b in zip(row_left, row_right, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                # The rollup adds up daily partial sums: the same total in another order.
                if not (isinstance(a, int | float) and isinstance(b, int | float)):
                    return False
                if not math.isclose(a, b, rel_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


def elapsed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure(connection: Connection, label: str, spec: QuerySpec, timezone: str, repeat: int) -> float | None:
    try:
        checked = queries.plan(connection, spec, timezone, ReadScope.operator())
    except InvalidInputError as error:
        print(f"\n{label}: skipped, {error}")
        return None
    if checked.rollup is None:
        print(f"\n{label}: skipped, the planner chose the table")
        return None
    on_table = dataclasses.replace(checked, rollup=None)
    # The check also warms the buffer cache and SQLAlchemy's statement cache for both paths.
    from_rollup = queries.run(connection, checked, timezone, ReadScope.operator())
    from_table = queries.run(connection, on_table, timezone, ReadScope.operator())
    assert (from_rollup.source, from_table.source) == ("rollup", "table")
    if not same_rows(from_rollup.rows, from_table.rows):
        raise SystemExit(f"{label}: the rollup and the table answer differently")
    # Taken in turns, so a neighbour that loads the machine for a while slows both paths alike.
    plan_times, rollup_times, table_times = [], [], []
    for _ in range(repeat):
        plan_times.append(elapsed_ms(lambda: queries.plan(connection, spec, timezone, ReadScope.operator())))
        rollup_times.append(elapsed_ms(lambda: queries.run(connection, checked, timezone, ReadScope.operator())))
        table_times.append(elapsed_ms(lambda: queries.run(connection, on_table, timezone, ReadScope.operator())))
    plan_ms, rollup_ms, table_ms = map(statistics.median, (plan_times, rollup_times, table_times))
    ratio = table_ms / rollup_ms
    print(f"\n{label}: {len(from_rollup.rows)} result rows, same on both paths")
    print(f"  table (raw rows)   {table_ms:9.2f} ms  (median of {repeat})")
    assert checked.rollup is not None
    print(f"  rollup ({checked.rollup.grain}ly view) {rollup_ms:7.2f} ms".replace("dayly", "daily"))
    print(f"  ratio              {ratio:9.1f}  (target >= {TARGET:.0f}) {'met' if ratio >= TARGET else 'MISSED'}")
    print(f"  planning (both)    {plan_ms:9.2f} ms  (catalog reads, not in the times above)")
    return ratio


NUMERIC_COST_SQL = """
SELECT date_trunc('month', visit_time) AS month, region, sum(charges), avg(charges), count(*)
FROM analytics.{table} WHERE visit_time >= '2024-01-01' AND visit_time < '2025-01-01' GROUP BY 1, 2
"""


def measure_numeric_cost(connection: Connection, repeat: int) -> float:
    """The table path's aggregation of charges as numeric (what the import makes of money)
    against the same rows with charges as double precision, medians in turns."""
    raw = connection.connection.driver_connection
    assert raw is not None
    charges_type = raw.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = 'analytics' AND table_name = %s AND column_name = 'charges'",
        [DATASET],
    ).fetchone()
    assert charges_type is not None and charges_type[0] == "numeric", charges_type
    twin = f"{DATASET}_float"
    raw.execute(sql.SQL("DROP TABLE IF EXISTS analytics.{}").format(sql.Identifier(twin)))
    raw.execute(
        sql.SQL(
            "CREATE TABLE analytics.{} AS SELECT visit_time, region, charges::float8 AS charges FROM analytics.{}"
        ).format(sql.Identifier(twin), sql.Identifier(DATASET))
    )
    raw.execute(sql.SQL("ANALYZE analytics.{}").format(sql.Identifier(twin)))
    statements = {name: NUMERIC_COST_SQL.format(table=name) for name in (DATASET, twin)}
    times: dict[str, list[float]] = {name: [] for name in statements}

    def run(statement: str) -> None:
        raw.execute(statement).fetchall()

    for _ in range(repeat + 1):  # the first round warms the buffer cache
        for name, statement in statements.items():
            started = time.perf_counter()
            run(statement)
            times[name].append((time.perf_counter() - started) * 1000)
    numeric_ms, float_ms = (statistics.median(times[name][1:]) for name in (DATASET, twin))
    raw.execute(sql.SQL("DROP TABLE analytics.{}").format(sql.Identifier(twin)))
    raw.commit()
    ratio = numeric_ms / float_ms
    print("\nnumeric cost, sum and avg of charges by month x region over 2024 from the table:")
    print(f"  numeric (exact)    {numeric_ms:9.2f} ms  (median of {repeat})")
    print(f"  double precision   {float_ms:9.2f} ms")
    print(f"  ratio              {ratio:9.2f}  (what exact sums cost on the table path)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="runs of each path; the medians are compared")
    parser.add_argument(
        "--dimensions",
        default="region,department,payer",
        help="the metrics' dimensions, hence the rollup's key besides the day; fewer make a smaller rollup",
    )
    arguments = parser.parse_args()
    dimensions = arguments.dimensions.split(",")
    settings = Settings()
    prepare(settings, arguments.rows, dimensions)
    connections = Connections.open(settings)
    with connections.engine.connect() as connection:
        rollup = rollups.rollups_of(connection, DATASET)[0]
        view = sa.table(rollup.view_name, schema="analytics")
        view_rows = connection.execute(sa.select(sa.func.count()).select_from(view)).scalar_one()
        print(f"rollup: {view_rows} rows (day x {' x '.join(rollup.dimensions)}) for {arguments.rows} table rows")
        ratios = [
            measure(connection, label, spec, settings.reporting_timezone, arguments.repeat)
            for label, spec in QUERIES.items()
        ]
    with connections.engine.connect() as connection:
        measure_numeric_cost(connection, arguments.repeat)
    connections.close()
    # The machine may be shared; a busy one slows both paths, not always alike.
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    measured = [ratio for ratio in ratios if ratio is not None]
    if measured and min(measured) < TARGET:
        print(f"target missed: the slowest ratio is {min(measured):.1f}, the target is at least {TARGET:.0f}")


if __name__ == "__main__":
    main()
