"""Queries: metrics as a time series, compiled with SQLAlchemy Core and routed to the
daily rollup whenever it answers exactly, else to the table.

Identifiers come from the catalog only (a name in the query is looked up, never
pasted); values are bound parameters. The rollup answers exactly when: no metric is a
distinct count, the view is fresh (it holds the dataset's data_version) and cut in the
reporting time zone, every grouped or filtered column is one of its dimensions, and
the range starts and ends on day boundaries. avg is then sum over count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from bi_agent.catalog import datasets, metrics, rollups
from bi_agent.catalog.columns import ColumnSpec
from bi_agent.catalog.filters import check_filter_value, condition
from bi_agent.catalog.query_cache import QueryCache, cache_key
from bi_agent.catalog.query_spec import Filter, QuerySpec, period_count, shift_period
from bi_agent.catalog.values import json_value
from bi_agent.errors import ConflictError, InvalidInputError, PermissionDeniedError
from bi_agent.infra.telemetry import QUERIES
from bi_agent.security.phi_access import PhiRead
from bi_agent.security.read_scope import ReadScope

PERIOD = "period"


class QueryResult(BaseModel):
    """A query's reply (POST /api/v1/query): one row per period and group."""

    columns: list[str] = Field(description="`period`, the group_by dimensions, then each metric")
    rows: list[list[Any]] = Field(description="Values in the order of `columns`; a period as an ISO date")
    source: Literal["rollup", "table"] = Field(description="Whether a rollup or the table answered")
    dataset: str
    data_version: int = Field(description="The dataset's version the answer is of")
    limit: int
    truncated: bool = Field(
        default=False, description="More rows matched than `limit`: `rows` holds the first `limit` of them"
    )
    suppressed: bool | None = Field(
        default=None, description="HIPAA mode, caller without phi:read: whether a small cell was hidden"
    )
    suppressed_cells: list[list[int]] | None = Field(
        default=None, description="[row, column] of each value hidden as built from too few records"
    )
    cached: bool = Field(default=False, description="Whether the answer came from the cache")

    def stored(self) -> dict[str, Any]:
        """The reply as a cache keeps it and the route sends it (fields that do not apply left out)."""
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class Plan:
    """A checked query: its metrics, their dataset and columns, and where it can be answered."""

    spec: QuerySpec
    metrics: list[metrics.Metric]
    dataset: str
    data_version: int
    columns: dict[str, ColumnSpec]
    rollup: rollups.Rollup | None
    # The caller's row policies: filters ANDed into the query wherever it reads.
    policy: tuple[Filter, ...] = ()


def plan(
    connection: Connection,
    spec: QuerySpec,
    timezone: str,
    scope: ReadScope,
    *,
    policy: Sequence[Filter] | None = None,
) -> Plan:
    """The checked query and the relation that answers it. For a scope without PHI, grouping
    or filtering by a PHI column is refused: groups and filters reveal its values; so is a
    PHI metric (security/phi_access), judged by the columns' flags now. The scope's row
    policies (`policy`, when the caller read them already) limit the rows; a rollup answers
    only if it keeps the policy's columns."""
    chosen = metrics.find_metrics(connection, spec.metric_names)
    dataset_names = {metric.dataset for metric in chosen}
    if len(dataset_names) > 1:
        raise InvalidInputError(
            f"metrics of one query must share a dataset; these use {', '.join(sorted(dataset_names))}"
        )
    time_columns = {metric.time_column for metric in chosen}
    if len(time_columns) > 1:
        raise InvalidInputError(
            f"metrics of one query must share a time column; these use {', '.join(sorted(time_columns))}"
        )
    dataset = chosen[0].dataset
    summary = datasets.get_dataset(connection, dataset)
    columns = {column.name: column for column in datasets.get_columns(connection, dataset)}
    for name in [*spec.group_by, *(item.dimension for item in spec.filters)]:
        refusing = [metric.name for metric in chosen if name not in metric.dimensions]
        if refusing:
            raise InvalidInputError(
                f"unknown dimension {name!r}: metric {', '.join(refusing)} allows {_allowed(chosen, refusing[0])}"
            )
    if not scope.phi_allowed:
        for metric in chosen:
            scope.check_metric(metric.name, metric.phi_shown)
        _check_no_phi(spec, columns)
    if policy is None:
        policy = scope.row_filters(connection, dataset)
    _check_order(spec, chosen)
    for item in spec.filters:
        check_filter_value(item, columns[item.dimension])
    for item in policy:
        if item.dimension not in columns:
            # Closed, not open: a policy whose column a later import dropped hides everything.
            raise ConflictError(
                f"a row policy on dataset {dataset} names column {item.dimension}, which it no longer has; "
                "an admin must set the policy again"
            )
    return Plan(
        spec,
        chosen,
        dataset,
        summary.data_version,
        columns,
        _usable_rollup(connection, spec, chosen, summary.data_version, timezone, policy),
        tuple(policy),
    )


def _check_no_phi(spec: QuerySpec, columns: dict[str, ColumnSpec]) -> None:
    named = dict.fromkeys([*spec.group_by, *(item.dimension for item in spec.filters)])
    phi = [name for name in named if columns[name].phi]
    if phi:
        raise PermissionDeniedError(
            f"grouping or filtering by the PHI column {', '.join(phi)} needs the permission phi:read, "
            "which your roles lack"
        )


def _allowed(chosen: list[metrics.Metric], name: str) -> str:
    dimensions = next(metric.dimensions for metric in chosen if metric.name == name)
    return ", ".join(dimensions) if dimensions else "no dimensions"


def _check_order(spec: QuerySpec, chosen: list[metrics.Metric]) -> None:
    fields = {PERIOD, *spec.group_by, *(metric.name for metric in chosen)}
    for item in spec.order_by:
        if item.field not in fields:
            raise InvalidInputError(
                f"order_by {item.field!r} is not a column of the result ({', '.join(sorted(fields))})"
            )


def _usable_rollup(
    connection: Connection,
    spec: QuerySpec,
    chosen: list[metrics.Metric],
    data_version: int,
    timezone: str,
    policy: Sequence[Filter],
) -> rollups.Rollup | None:
    if any(metric.aggregation == "count_distinct" for metric in chosen):
        return None
    if not (_whole_day(spec.start) and _whole_day(spec.end)):
        return None
    needed = {*spec.group_by, *(item.dimension for item in [*spec.filters, *policy])}
    for metric in chosen:
        needed.update(item.dimension for item in metric.filters)
    # The monthly view holds whole months: it answers month, quarter and year over whole months.
    by_month = (
        spec.grain in ("month", "quarter", "year") and _as_date(spec.start).day == 1 and _as_date(spec.end).day == 1
    )
    usable = [
        rollup
        for rollup in rollups.rollups_of(connection, chosen[0].dataset)
        if rollup.time_column == chosen[0].time_column
        and rollup.data_version == data_version
        and rollup.timezone == timezone
        and needed <= set(rollup.dimensions)
        and all(metric.column is None or metric.column in rollup.measures for metric in chosen)
        and (rollup.grain == "day" or by_month)
    ]
    # The coarsest view that fits reads the fewest rows.
    return max(usable, key=lambda rollup: rollups.GRAINS.index(rollup.grain), default=None)


def _whole_day(value: date | datetime) -> bool:
    return not isinstance(value, datetime) or value.timetz().replace(tzinfo=None) == time(0)


def totals(connection: Connection, checked: Plan, timezone: str, *, with_records: bool = False) -> list[Any]:
    """Each metric over the whole range as one bucket (no periods, no groups): a KPI's value.
    With `with_records`, followed by the number of records behind each."""
    statement = (
        _rollup_statement(checked, by_period=False, with_records=with_records)
        if checked.rollup is not None
        else _table_statement(checked, timezone, by_period=False, with_records=with_records)
    )
    row = connection.execute(statement).one()
    return [json_value(value) for value in row]


def run(connection: Connection, checked: Plan, timezone: str, scope: ReadScope) -> QueryResult:
    """The query's rows. With the scope's `min_cell_size` (HIPAA mode), each metric value built
    from fewer records than that is replaced by null and listed in `suppressed_cells`."""
    min_cell_size = scope.min_cell_size
    counted = min_cell_size is not None
    statement = (
        _rollup_statement(checked, with_records=counted)
        if checked.rollup is not None
        else _table_statement(checked, timezone, with_records=counted)
    )
    # The statement asks for one row more than the limit: whether it came says the result was cut.
    found = connection.execute(statement).fetchmany(checked.spec.limit + 1)
    rows = [[json_value(value) for value in row] for row in found[: checked.spec.limit]]
    names = [PERIOD, *checked.spec.group_by, *(metric.name for metric in checked.metrics)]
    suppressed: list[list[int]] | None = None
    if min_cell_size is not None:
        rows, suppressed = _suppress_small_cells(rows, len(names), len(checked.metrics), min_cell_size)
    # Built without validation: every value is a JSON value already (json_value).
    return QueryResult.model_construct(
        columns=names,
        rows=rows,
        source="rollup" if checked.rollup is not None else "table",
        dataset=checked.dataset,
        data_version=checked.data_version,
        limit=checked.spec.limit,
        truncated=len(found) > checked.spec.limit,
        suppressed=None if suppressed is None else bool(suppressed),
        suppressed_cells=suppressed,
        cached=False,
    )


def _suppress_small_cells(
    rows: list[list[Any]], width: int, metric_count: int, min_cell_size: int
) -> tuple[list[list[Any]], list[list[int]]]:
    """Rows without their trailing record counts, each value of fewer records nulled."""
    first_metric = width - metric_count
    kept, hidden = [], []
    for index, row in enumerate(rows):
        values, records = row[:width], row[width:]
        for offset, count in enumerate(records):
            # Zero records is no cell at all (a group another metric filled): nothing to hide.
            if 0 < count < min_cell_size:
                values[first_metric + offset] = None
                hidden.append([index, first_metric + offset])
        kept.append(values)
    return kept, hidden


def _bounds(value: date | datetime, timezone: str) -> datetime:
    """A query bound as an instant: dates and naive times are read in the reporting zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


def _table_statement(
    checked: Plan, timezone: str, *, by_period: bool = True, with_records: bool = False
) -> sa.Select[Any]:
    spec = checked.spec
    table = sa.table(checked.dataset, *(sa.column(name) for name in checked.columns), schema="analytics")
    time_column = checked.columns[checked.metrics[0].time_column]
    moment = table.c[time_column.name]
    if time_column.data_type == "date":
        local_day: ColumnElement[Any] = moment
        lower = sa.bindparam("start", _bounds(spec.start, timezone).date(), type_=sa.Date)
        upper = sa.bindparam("end", _bounds(spec.end, timezone).date(), type_=sa.Date)
        in_range = sa.and_(moment >= lower, moment < upper)
    else:
        local_day = sa.func.timezone(sa.bindparam("tz", timezone), moment)
        lower_at = sa.bindparam("start", _bounds(spec.start, timezone), type_=sa.DateTime(timezone=True))
        upper_at = sa.bindparam("end", _bounds(spec.end, timezone), type_=sa.DateTime(timezone=True))
        in_range = sa.and_(moment >= lower_at, moment < upper_at)
    if time_column.data_type == "date":
        local_day = sa.cast(local_day, sa.DateTime(timezone=False))
    period = sa.cast(sa.func.date_trunc(sa.bindparam("grain", spec.grain), local_day), sa.Date).label(PERIOD)
    dimensions = [table.c[name].label(name) for name in spec.group_by]
    aggregates = [_table_aggregate(table, metric).label(metric.name) for metric in checked.metrics]
    if with_records:
        aggregates += [
            _filtered(sa.func.count(), metric, lambda name: table.c[name]).label(f"records_{index}")
            for index, metric in enumerate(checked.metrics)
        ]
    conditions = [in_range, *(condition(table.c[item.dimension], item) for item in [*spec.filters, *checked.policy])]
    if not by_period:
        return sa.select(*aggregates).select_from(table).where(*conditions)
    statement = sa.select(period, *dimensions, *aggregates).select_from(table).where(*conditions)
    return _finish(statement, spec, len(dimensions) + 1)


def _table_aggregate(table: Any, metric: metrics.Metric) -> ColumnElement[Any]:
    column: Any = table.c[metric.column] if metric.column is not None else None
    expression: Any
    if metric.aggregation == "count":
        expression = sa.func.count() if column is None else sa.func.count(column)
    elif metric.aggregation == "count_distinct":
        expression = sa.func.count(sa.distinct(column))
    else:
        expression = getattr(sa.func, metric.aggregation)(column)
    if metric.filters:
        expression = expression.filter(sa.and_(*(condition(table.c[item.dimension], item) for item in metric.filters)))
    if metric.aggregation == "avg":
        # The rollup's avg is a quotient of doubles; the table's is made the same type.
        return sa.cast(expression, sa.Float)
    return expression  # type: ignore[no-any-return]


def _rollup_statement(checked: Plan, *, by_period: bool = True, with_records: bool = False) -> sa.Select[Any]:
    spec = checked.spec
    rollup = checked.rollup
    assert rollup is not None
    names = ["day", *(f"d{index}" for index in range(len(rollup.dimensions)))]
    for index, measure in enumerate(rollup.measures):
        names += [f"m{index}_{partial}" for partial in rollups.PARTIALS[checked.columns[measure].data_type]]
    names.append("n_rows")
    view = sa.table(rollup.view_name, *(sa.column(name) for name in names), schema="analytics")
    day = view.c.day
    lower = sa.bindparam("start", _as_date(spec.start), type_=sa.Date)
    upper = sa.bindparam("end", _as_date(spec.end), type_=sa.Date)
    # A view's own grain needs no cutting. Otherwise: date_trunc of a date goes through
    # timestamptz and the session zone, row by row; of a plain timestamp it does not (half
    # the rollup query's time at a million rows).
    period = (
        day.label(PERIOD)
        if spec.grain == rollup.grain
        else sa.cast(
            sa.func.date_trunc(sa.bindparam("grain", spec.grain), sa.cast(day, sa.DateTime(timezone=False))), sa.Date
        ).label(PERIOD)
    )

    def dimension(name: str) -> Any:
        return view.c[rollup.dimension_column(name)]

    dimensions = [dimension(name).label(name) for name in spec.group_by]
    aggregates = [_rollup_aggregate(view, rollup, metric, dimension).label(metric.name) for metric in checked.metrics]
    if with_records:
        aggregates += [
            sa.func.coalesce(_filtered(sa.func.sum(view.c.n_rows), metric, dimension), 0).label(f"records_{index}")
            for index, metric in enumerate(checked.metrics)
        ]
    conditions = [
        day >= lower,
        day < upper,
        *(condition(dimension(item.dimension), item) for item in [*spec.filters, *checked.policy]),
    ]
    if not by_period:
        return sa.select(*aggregates).select_from(view).where(*conditions)
    statement = sa.select(period, *dimensions, *aggregates).select_from(view).where(*conditions)
    return _finish(statement, spec, len(dimensions) + 1)


def _rollup_aggregate(view: Any, rollup: rollups.Rollup, metric: metrics.Metric, dimension: Any) -> ColumnElement[Any]:
    def partial(name: str) -> Any:
        assert metric.column is not None
        return view.c[rollup.measure_column(metric.column, name)]

    expression: Any
    if metric.aggregation == "count":
        expression = sa.func.sum(view.c.n_rows if metric.column is None else partial("count"))
    elif metric.aggregation == "avg":
        total: Any = sa.func.sum(partial("sum"))
        count: Any = sa.func.sum(partial("count"))
        if metric.filters:
            kept = sa.and_(*(condition(dimension(item.dimension), item) for item in metric.filters))
            total, count = total.filter(kept), count.filter(kept)
        return sa.cast(total, sa.Float) / sa.func.nullif(sa.cast(count, sa.Float), 0)
    else:
        expression = getattr(sa.func, metric.aggregation)(partial(metric.aggregation))
    if metric.filters:
        expression = expression.filter(
            sa.and_(*(condition(dimension(item.dimension), item) for item in metric.filters))
        )
    # A sum over no rows is NULL in SQL, but a count of nothing is 0.
    if metric.aggregation == "count":
        expression = sa.func.coalesce(expression, 0)
    return expression  # type: ignore[no-any-return]


def _filtered(aggregate: Any, metric: metrics.Metric, column_of: Callable[[str], Any]) -> Any:
    """`aggregate` over the rows the metric's own filters keep: the records behind its value."""
    if not metric.filters:
        return aggregate
    return aggregate.filter(sa.and_(*(condition(column_of(item.dimension), item) for item in metric.filters)))


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _finish(statement: sa.Select[Any], spec: QuerySpec, key_count: int) -> sa.Select[Any]:
    # Positions, not expressions: the period and dimensions are grouped and ordered as selected.
    positions: list[ColumnElement[Any]] = [sa.literal_column(str(position)) for position in range(1, key_count + 1)]
    order = []
    for item in spec.order_by:
        column: ColumnElement[Any] = sa.literal_column(
            f'"{item.field}"'
        )  # a result column whose name _check_order allowed
        order.append(column.desc() if item.direction == "desc" else column.asc())
    return statement.group_by(*positions).order_by(*order, *positions).limit(spec.limit + 1)


def phi_reads(connection: Connection, metric_names: list[str], dimensions: Iterable[str]) -> list[PhiRead]:
    """What a query of these metrics, grouped or filtered by `dimensions`, reads of each
    dataset's PHI columns: for security/phi_access."""
    chosen = metrics.find_metrics(connection, metric_names)
    named = set(dimensions)
    named.update(metric.column for metric in chosen if metric.column is not None)
    # A PHI metric's filters and time column show their columns' values too.
    named.update(name for metric in chosen for name in metric.phi_shown)
    reads = []
    for dataset in sorted({metric.dataset for metric in chosen}):
        phi_columns = [column.name for column in datasets.get_columns(connection, dataset) if column.phi]
        reads.append(PhiRead(dataset, phi_columns, [name for name in phi_columns if name in named]))
    return reads


def storable(checked: Plan) -> bool:
    """Whether a cache (Redis) may keep this query's answer: not when it shows PHI values. That
    is when a metric of it is a PHI metric (min, max, sum or avg of a PHI column is one record's
    value or can be, a PHI time column's periods are its dates, a filter on one ties the answer
    to its value) or when it is grouped or filtered by a PHI column (a group per value, or one
    record's series)."""
    if any(metric.phi_shown for metric in checked.metrics):
        return False
    named = [*checked.spec.group_by, *(item.dimension for item in checked.spec.filters)]
    return not any(checked.columns[name].phi for name in named)


class Answer(NamedTuple):
    result: QueryResult
    storable: bool  # False when the result holds PHI values, which no cache may keep


def answer(connection: Connection, cache: QueryCache, spec: QuerySpec, timezone: str, scope: ReadScope) -> Answer:
    """The query's result, whether it came from the cache, and whether it may be kept in one.

    The cache is asked after one catalog read (the dataset's version and the metrics'
    definitions, all a key needs); a miss then plans and runs the query in full. A result
    that shows PHI values (`storable`: a PHI metric's, or one grouped or filtered by a PHI
    column) is never written to Redis.
    """
    dataset, data_version, definitions = metrics.fingerprint(connection, spec.metric_names)
    policy = scope.row_filters(connection, dataset)
    shape = [timezone, f"cells>={scope.min_cell_size}", json.dumps([item.model_dump(mode="json") for item in policy])]
    key = cache_key(spec.canonical(), dataset, data_version, [*definitions, *shape], scope.cache_scope)
    cached = cache.get(key)
    if cached is not None:
        return Answer(QueryResult.model_construct(**{**cached, "cached": True}), storable=True)
    checked = plan(connection, spec, timezone, scope, policy=policy)
    result = run(connection, checked, timezone, scope)
    if spec.compare == "previous_period":
        result = _with_previous_period(connection, checked, result, timezone, scope)
    QUERIES.labels(result.source).inc()
    keep = storable(checked)
    # A version that moved between the two reads would file a newer answer under an older key.
    if keep and checked.data_version == data_version:
        cache.put(key, result.stored())
    return Answer(result, storable=keep)


def _period_count(spec: QuerySpec, timezone: str) -> int:
    """How many grain periods the range touches: the shift that lines up the period before."""
    return period_count(_bounds(spec.start, timezone).date(), _bounds(spec.end, timezone).date(), spec.grain)


def _with_previous_period(
    connection: Connection, checked: Plan, result: QueryResult, timezone: str, scope: ReadScope
) -> QueryResult:
    """Add `<metric>_previous` and `<metric>_change_pct`: each row against the same row one range earlier.

    The earlier range is the query's range moved back by as many grain periods as it
    spans, so January-June is set against July-December of the year before, month by month.
    """
    spec = checked.spec
    periods = _period_count(spec, timezone)
    earlier_spec = spec.model_copy(
        update={
            "start": shift_period(_bounds(spec.start, timezone).date(), spec.grain, -periods),
            "end": shift_period(_bounds(spec.end, timezone).date(), spec.grain, -periods),
            "compare": None,
            "limit": spec.limit,
        }
    )
    # The same group_by, filters and row policy as the query itself, already checked.
    # Its small cells are hidden too: a change from a hidden value would reveal it.
    earlier_plan = plan(connection, earlier_spec, timezone, scope, policy=checked.policy)
    earlier = run(connection, earlier_plan, timezone, scope)
    keys = 1 + len(spec.group_by)
    by_key = {
        (shift_period(date.fromisoformat(row[0]), spec.grain, periods).isoformat(), *row[1:keys]): row[keys:]
        for row in earlier.rows
    }
    names = [metric.name for metric in checked.metrics]
    rows = []
    for row in result.rows:
        before = by_key.get(tuple(row[:keys]), [None] * len(names))
        extra: list[Any] = []
        for value, previous in zip(row[keys:], before, strict=True):
            change = None
            if isinstance(value, int | float) and isinstance(previous, int | float) and previous:
                change = round((value - previous) / abs(previous) * 100, 2)
            extra += [previous, change]
        rows.append([*row, *extra])
    columns = [*result.columns, *(f"{name}_{suffix}" for name in names for suffix in ("previous", "change_pct"))]
    return result.model_copy(update={"columns": columns, "rows": rows})
