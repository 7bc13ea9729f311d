"""KPIs: each metric's value in the current period against the previous one, stored as snapshots.

"Current" is the period that holds the dataset's latest data (or today, if the data
runs that far), so a historical dataset still shows a meaningful card. The previous
period is compared like for like: the same number of days from its start, so the
tenth of a month is set against the first ten days of the month before. Values come
through the query router, so a fresh rollup answers them. Snapshots are computed for every
metric; a PHI metric's are served only to callers with `phi:read`, judged when they are
read, from the columns' flags then (security/phi_access).

Each metric is calculated on its own: one that fails (a definition its dataset no longer
answers, a value that is no number, a query PostgreSQL refuses) keeps its last snapshots and
gets the reason in `bi.kpi_errors`, shown on its card, and the others are stored all the
same. Only an outage stops the run, so that the task retries it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets, metrics, queries
from bi_agent.catalog.query_spec import Grain, QuerySpec, shift_period
from bi_agent.errors import InvalidInputError
from bi_agent.infra import error_text, outages
from bi_agent.infra.db import psycopg_connection
from bi_agent.security.phi_access import metric_phi_columns
from bi_agent.security.read_scope import ReadScope

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
    spec = QuerySpec(metric=metric.name, start=start, end=end)
    # Computed over every row: what each caller may see of it is decided when it is read (latest).
    checked = queries.plan(connection, spec, timezone, ReadScope.operator())
    value, records = queries.totals(connection, checked, timezone, with_records=True)
    return number(metric, value), int(records or 0)


def number(metric: metrics.Metric, value: Any) -> float | None:
    """A value of the metric as the number KPIs and forecasts work with. InvalidInputError for
    one that is no number: the min or max of a date, or of text in a definition from before
    those were refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"metric {metric.name} ({metric.aggregation} of {metric.column}) has values that are not numbers"
        )
    return float(value)


def check_answerable(connection: Connection, metric: metrics.Metric) -> None:
    """Refuse a stored metric its dataset cannot answer as it is now, saying why, as a new
    definition would be refused: one stored before a check existed, or changed in the catalog."""
    metrics.check_definition(metric, datasets.get_columns(connection, metric.dataset))


def compute(connection: Connection, metric: metrics.Metric, grain: Grain, today: date, timezone: str) -> Kpi | None:
    latest = latest_day(connection, metric, timezone)
    if latest is None:
        return None
    as_of = min(latest, today)
    start = period_start(as_of, grain)
    end = as_of + timedelta(days=1)
    previous_start = shift_period(start, grain, -1)
    previous_end = previous_start + (end - start)
    value, records = _total(connection, metric, start, end, timezone)
    previous, previous_records = _total(connection, metric, previous_start, previous_end, timezone)
    change = None
    if value is not None and previous not in (None, 0):
        assert previous is not None
        change = round((value - previous) / abs(previous) * 100, 2)
    data_version = metrics.fingerprint(connection, [metric.name])[1]
    return Kpi(metric.name, grain, start, end, value, previous, change, data_version, records, previous_records)


@dataclass(frozen=True)
class KpiRun:
    stored: int
    # The metrics whose KPIs could not be calculated, by name; why is in bi.kpi_errors.
    failed: list[str]


def calculate_all(engine: Engine, today: date, timezone: str) -> KpiRun:
    """Compute and store every metric's KPI at every grain, each metric in a transaction of
    its own; how many snapshots were stored, and which metrics failed."""
    with engine.connect() as connection:
        everything, _ = metrics.list_metrics(connection, limit=10_000, offset=0)
    stored = 0
    failed: list[str] = []
    for metric in everything:
        try:
            with engine.begin() as connection:
                stored += _store(connection, metric, today, timezone)
                connection.execute(text("DELETE FROM bi.kpi_errors WHERE metric_id = :id"), {"id": metric.id})
        except Exception as error:
            # Whatever one metric fails on is that metric's alone, but an outage is everyone's.
            if outages.outage(error) is not None:
                raise
            failed.append(metric.name)
            with engine.begin() as connection:
                # From bi.metrics: a metric deleted since the list was read gets no row.
                connection.execute(
                    text(
                        "INSERT INTO bi.kpi_errors (metric_id, error) SELECT id, :error FROM bi.metrics WHERE id = :id "
                        "ON CONFLICT (metric_id) DO UPDATE SET error = :error, failed_at = now()"
                    ),
                    {"id": metric.id, "error": error_text.describe(error)},
                )
    return KpiRun(stored, failed)


def _store(connection: Connection, metric: metrics.Metric, today: date, timezone: str) -> int:
    check_answerable(connection, metric)
    stored = 0
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


class KpiCard(BaseModel):
    """A metric's latest KPI at a grain: the current period to the latest data against the same
    span of the period before."""

    metric: str
    dataset: str
    description: str | None
    format: str | None
    aggregation: str
    grain: Grain
    period_start: date | None = Field(description="The current period's first day; null before any calculation")
    value: float | None
    previous_value: float | None
    change_pct: float | None
    stale: bool = Field(description="Data has arrived since the KPI was computed")
    computed_at: datetime | None
    error: str | None = Field(description="Why the metric's last calculation failed; null when it did not")
    failed_at: datetime | None
    suppressed: bool | None = Field(
        default=None, description="HIPAA mode, caller without phi:read: whether a value was hidden as a small cell"
    )


def latest(connection: Connection, grain: Grain, scope: ReadScope) -> list[KpiCard]:
    """Each metric's newest snapshot at this grain, and whether newer data has come since; and
    `error`, why its last calculation failed (null when it did not), the card of a metric that
    never got a snapshot included. KPIs are computed over every row, so those of datasets a row
    policy limits for the caller are left out; so are PHI metrics for a scope without PHI. With
    the scope's `min_cell_size` (HIPAA mode), a value of fewer records (or of an unknown number,
    from before records were kept) is null, and `suppressed` says so; outside it `suppressed` is
    not set at all."""
    rows = connection.execute(
        text(
            "SELECT m.name, m.description, m.format, m.aggregation, d.name AS dataset, "
            "m.column_name, m.time_column, m.filters, ARRAY(SELECT c.name FROM bi.dataset_columns c "
            "WHERE c.dataset_id = d.id AND c.phi) AS phi_columns, "
            "k.period_start, k.value, k.previous_value, k.change_pct, k.data_version, k.records, k.previous_records, "
            "d.data_version AS current_version, k.computed_at, e.error, e.failed_at "
            "FROM bi.metrics m JOIN bi.datasets d ON d.id = m.dataset_id "
            "LEFT JOIN LATERAL (SELECT * FROM bi.kpi_snapshots s WHERE s.metric_id = m.id AND s.grain = :grain "
            "ORDER BY s.period_start DESC LIMIT 1) k ON true "
            "LEFT JOIN bi.kpi_errors e ON e.metric_id = m.id "
            "WHERE k.metric_id IS NOT NULL OR e.metric_id IS NOT NULL ORDER BY m.name"
        ),
        {"grain": grain},
    ).mappings()
    restricted = scope.restricted_datasets(connection)
    return [
        _card(row, grain, scope.min_cell_size)
        for row in rows
        if row["dataset"] not in restricted and (scope.phi_allowed or not _phi_metric(row))
    ]


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


def _card(row: Any, grain: Grain, min_cell_size: int | None) -> KpiCard:
    card = KpiCard(
        metric=row["name"],
        dataset=row["dataset"],
        description=row["description"],
        format=row["format"],
        aggregation=row["aggregation"],
        grain=grain,
        period_start=row["period_start"],
        value=row["value"],
        previous_value=row["previous_value"],
        change_pct=row["change_pct"],
        stale=row["data_version"] != row["current_version"],
        computed_at=row["computed_at"],
        error=row["error"],
        failed_at=row["failed_at"],
    )
    if min_cell_size is None:
        return card
    if row["computed_at"] is None:
        # The card of a metric that failed before any snapshot: no value to hide.
        return card.model_copy(update={"suppressed": False})
    hide_value, hide_previous = _small(row["records"], min_cell_size), _small(row["previous_records"], min_cell_size)
    hidden: dict[str, Any] = {"suppressed": hide_value or hide_previous}
    if hide_value:
        hidden["value"] = None
    if hide_previous:
        hidden["previous_value"] = None
    if hide_value or hide_previous:
        hidden["change_pct"] = None
    return card.model_copy(update=hidden)
