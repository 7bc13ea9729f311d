"""KPIs: each metric's value in the current period against the previous one, stored as snapshots.

"Current" is the period that holds the dataset's latest data (or today, if the data
runs that far), so a historical dataset still shows a meaningful card. The previous
period is compared like for like: the same number of days from its start, so the
tenth of a month is set against the first ten days of the month before. Values come
through the query router, so a fresh rollup answers them. Snapshots are computed for every
metric; a PHI metric's are served only to callers with `phi:read`, judged when they are
read, from the columns' flags then (security/phi_access).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import metrics, queries
from bi_agent.catalog.query_spec import Grain, QuerySpec
from bi_agent.infra.db import psycopg_connection
from bi_agent.security.phi_access import metric_phi_columns

GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Kpi:
    metric: str
    grain: str
    period_start: date
    period_end: date
    value: float | None
    previous_value: float | None
    change_pct: float | None
    data_version: int
    # How many records each value was built from: HIPAA mode hides values of small cells.
    records: int = 0
    previous_records: int = 0


def period_start(day: date, grain: Grain) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def latest_day(connection: Connection, metric: metrics.Metric, timezone: str) -> date | None:
    column = sql.Identifier(metric.time_column)
    raw = psycopg_connection(connection)
    statement = sql.SQL("SELECT max({}) FROM {}.{}").format(
        column, sql.Identifier("analytics"), sql.Identifier(metric.dataset)
    )
    with raw.cursor() as cursor:
        cursor.execute(statement)
        latest = cursor.fetchone()
    if latest is None or latest[0] is None:
        return None
    value = latest[0]
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(timezone)).date()
    assert isinstance(value, date)
    return value


def _total(
    connection: Connection, metric: metrics.Metric, start: date, end: date, timezone: str
) -> tuple[float | None, int]:
    checked = queries.plan(connection, QuerySpec(metric=metric.name, start=start, end=end), timezone, phi_allowed=True)
    value, records = queries.totals(connection, checked, timezone, with_records=True)
    return (None if value is None else float(value)), int(records or 0)


def compute(connection: Connection, metric: metrics.Metric, grain: Grain, today: date, timezone: str) -> Kpi | None:
    latest = latest_day(connection, metric, timezone)
    if latest is None:
        return None
    as_of = min(latest, today)
    start = period_start(as_of, grain)
    end = as_of + timedelta(days=1)
    previous_start = queries.shift_period(start, grain, -1)
    previous_end = previous_start + (end - start)
    value, records = _total(connection, metric, start, end, timezone)
    previous, previous_records = _total(connection, metric, previous_start, previous_end, timezone)
    change = None
    if value is not None and previous not in (None, 0):
        assert previous is not None
        change = round((value - previous) / abs(previous) * 100, 2)
    data_version = metrics.fingerprint(connection, [metric.name])[1]
    return Kpi(metric.name, grain, start, end, value, previous, change, data_version, records, previous_records)


def calculate_all(engine: Engine, today: date, timezone: str) -> int:
    """Compute and store every metric's KPI at every grain; returns how many were stored."""
    stored = 0
    with engine.begin() as connection:
        everything, _ = metrics.list_metrics(connection, limit=10_000, offset=0)
        for metric in everything:
            for grain in GRAINS:
                kpi = compute(connection, metric, grain, today, timezone)
                if kpi is None:
                    continue
                connection.execute(
                    text(
                        "INSERT INTO bi.kpi_snapshots (metric_id, grain, period_start, value, previous_value, "
                        "change_pct, data_version, records, previous_records) VALUES (:metric, :grain, :start, "
                        ":value, :previous, :change, :version, :records, :previous_records) "
                        "ON CONFLICT (metric_id, grain, period_start) DO UPDATE SET value = :value, "
                        "previous_value = :previous, change_pct = :change, data_version = :version, "
                        "records = :records, previous_records = :previous_records, computed_at = now()"
                    ),
                    {
                        "metric": metric.id,
                        "grain": grain,
                        "start": kpi.period_start,
                        "value": kpi.value,
                        "previous": kpi.previous_value,
                        "change": kpi.change_pct,
                        "version": kpi.data_version,
                        "records": kpi.records,
                        "previous_records": kpi.previous_records,
                    },
                )
                stored += 1
    return stored


def latest(
    connection: Connection, grain: Grain, *, phi_allowed: bool, min_cell_size: int | None = None
) -> list[dict[str, Any]]:
    """Each metric's newest snapshot at this grain, and whether newer data has come since.
    Without `phi_allowed`, PHI metrics are left out. With `min_cell_size` (HIPAA mode), a value
    of fewer records (or of an unknown number, from before records were kept) is null, and
    `suppressed` says so."""
    rows = connection.execute(
        text(
            "SELECT DISTINCT ON (m.name) m.name, m.description, m.format, m.aggregation, d.name AS dataset, "
            "m.column_name, m.time_column, m.filters, ARRAY(SELECT c.name FROM bi.dataset_columns c "
            "WHERE c.dataset_id = d.id AND c.phi) AS phi_columns, "
            "k.period_start, k.value, k.previous_value, k.change_pct, k.data_version, k.records, k.previous_records, "
            "d.data_version AS current_version, "
            "k.computed_at FROM bi.kpi_snapshots k JOIN bi.metrics m ON m.id = k.metric_id "
            "JOIN bi.datasets d ON d.id = m.dataset_id WHERE k.grain = :grain ORDER BY m.name, k.period_start DESC"
        ),
        {"grain": grain},
    ).mappings()
    return [_suppressed(_item(row, grain), row, min_cell_size) for row in rows if phi_allowed or not _phi_metric(row)]


def _phi_metric(row: Any) -> bool:
    return bool(
        metric_phi_columns(
            aggregation=row["aggregation"],
            column=row["column_name"],
            time_column=row["time_column"],
            filter_columns=[item["dimension"] for item in row["filters"]],
            phi_columns=row["phi_columns"],
        )
    )


def _small(records: int | None, min_cell_size: int) -> bool:
    return records is None or 0 < records < min_cell_size


def _suppressed(item: dict[str, Any], row: Any, min_cell_size: int | None) -> dict[str, Any]:
    if min_cell_size is None:
        return item
    hide_value, hide_previous = _small(row["records"], min_cell_size), _small(row["previous_records"], min_cell_size)
    if hide_value:
        item["value"] = None
    if hide_previous:
        item["previous_value"] = None
    if hide_value or hide_previous:
        item["change_pct"] = None
    item["suppressed"] = hide_value or hide_previous
    return item


def _item(row: Any, grain: Grain) -> dict[str, Any]:
    return {
        "metric": row["name"],
        "dataset": row["dataset"],
        "description": row["description"],
        "format": row["format"],
        "aggregation": row["aggregation"],
        "grain": grain,
        "period_start": row["period_start"].isoformat(),
        "value": row["value"],
        "previous_value": row["previous_value"],
        "change_pct": row["change_pct"],
        "stale": row["data_version"] != row["current_version"],
        "computed_at": row["computed_at"].isoformat(),
    }
