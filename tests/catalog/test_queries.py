"""Queries: every number equals the same aggregation written by hand in SQL, from the rollup
and from the table, for random metrics, grains, ranges, groups and filters."""

from __future__ import annotations

import dataclasses
import io
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import Engine, text

from bi_agent.catalog import metrics, queries, rollups, row_policies
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.catalog.query_spec import Filter, QuerySpec
from bi_agent.errors import InvalidInputError, NotFoundError
from bi_agent.infra.ports import free_port
from bi_agent.infra.telemetry import QUERY_CACHE
from tests.catalog.conftest import Importer
from tests.read_scopes import OPERATOR, reader

TIMEZONE = "UTC"
SIGNING_KEY = b"k" * 32


def ask(connection: Any, cache: QueryCache, question: QuerySpec, scope: Any) -> tuple[dict[str, Any], bool]:
    """queries.answer's reply as a route sends it, and whether it came from the cache."""
    result = queries.answer(connection, cache, question, TIMEZONE, scope).result
    return {key: value for key, value in result.stored().items() if key != "cached"}, result.cached


DIMENSIONS = ["region", "channel", "returned"]
REGIONS = ["north", "south", "east", None]
CHANNELS = ["web", "store", "phone"]
FIRST_DAY = date(2024, 1, 1)
DAYS = 400


def sales_csv(rows: int = 3_000, seed: int = 5) -> bytes:
    generator = random.Random(seed)
    out = io.StringIO()
    out.write("sold_at,region,channel,amount,units,returned,customer\n")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(rows):
        moment = start + timedelta(seconds=generator.randrange(DAYS * 86400))
        region = generator.choice(REGIONS) or ""
        amount = "" if generator.random() < 0.05 else f"{generator.uniform(1, 500):.2f}"
        out.write(
            f"{moment.isoformat()},{region},{generator.choice(CHANNELS)},{amount},{generator.randint(1, 9)},"
            f"{generator.random() < 0.1},cust{generator.randint(1, 300)}\n"
        )
    return out.getvalue().replace(",True,", ",true,").replace(",False,", ",false,").encode()


METRICS: dict[str, tuple[metrics.Aggregation, str | None, list[Filter]]] = {
    "n": ("count", None, []),
    "units_sum": ("sum", "units", []),
    "amount_sum": ("sum", "amount", []),
    "amount_avg": ("avg", "amount", []),
    "units_min": ("min", "units", []),
    "amount_max": ("max", "amount", []),
    "amount_count": ("count", "amount", []),
    "customers": ("count_distinct", "customer", []),
    "returns": ("count", None, [Filter(dimension="returned", op="eq", value=True)]),
    "web_amount": ("sum", "amount", [Filter(dimension="channel", op="eq", value="web")]),
}


@pytest.fixture
def sales(load: Importer, engine: Engine) -> Engine:
    load("sales", "sales.csv", sales_csv())
    with engine.begin() as connection:
        for name, (aggregation, column, filters) in METRICS.items():
            definition = metrics.MetricDefinition(
                name=name,
                dataset="sales",
                aggregation=aggregation,
                column=column,
                time_column="sold_at",
                dimensions=DIMENSIONS,
                filters=filters,
            )
            metrics.create_metric(connection, definition, None, TIMEZONE, phi_allowed=True)
    rollups.refresh_stale(engine, "sales")
    return engine


def libpq(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def hand_written(engine: Engine, spec: QuerySpec) -> list[list[Any]]:
    """The same question in plain SQL, written independently of the compiler."""
    selected: list[sql.Composable] = [
        sql.SQL("date_trunc({}, sold_at AT TIME ZONE 'UTC')::date").format(sql.Literal(spec.grain))
    ]
    selected += [sql.Identifier(name) for name in spec.group_by]
    params: list[Any] = []
    for name in spec.metric_names:
        aggregation, column, filters = METRICS[name]
        target = sql.SQL("*") if column is None else sql.Identifier(column)
        if aggregation == "count_distinct":
            expression = sql.SQL("count(DISTINCT {})").format(target)
        else:
            expression = sql.SQL("{}({})").format(sql.SQL(aggregation), target)
        if filters:
            where, values = conditions(filters)
            expression = sql.SQL("{} FILTER (WHERE {})").format(expression, where)
            params += values
        selected.append(expression)
    where, values = conditions(spec.filters)
    start = datetime.combine(spec.start, datetime.min.time(), UTC)
    end = datetime.combine(spec.end, datetime.min.time(), UTC)
    keys = sql.SQL(", ").join(sql.SQL(str(position)) for position in range(1, len(spec.group_by) + 2))
    statement = sql.SQL(
        "SELECT {} FROM analytics.sales WHERE sold_at >= %s AND sold_at < %s AND {} GROUP BY {} ORDER BY {}"
    ).format(sql.SQL(", ").join(selected), where, keys, keys)
    with psycopg.connect(libpq(engine)) as connection:
        rows = connection.execute(statement, [*params, start, end, *values]).fetchall()
    return [list(row) for row in rows]


def conditions(filters: list[Filter] | tuple[Filter, ...]) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("true")]
    values: list[Any] = []
    operators = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    for item in filters:
        column = sql.Identifier(item.dimension)
        if item.op in operators:
            parts.append(sql.SQL("{} {} %s").format(column, sql.SQL(operators[item.op])))
            values.append(item.value)
        elif item.op == "in":
            parts.append(sql.SQL("{} = ANY(%s)").format(column))
            values.append(item.value)
        elif item.op == "not_in":
            parts.append(sql.SQL("NOT ({} = ANY(%s))").format(column))
            values.append(item.value)
        else:
            parts.append(sql.SQL("strpos({}, %s) > 0").format(column))
            values.append(item.value)
    return sql.SQL(" AND ").join(parts), values


def same(left: Any, right: Any) -> bool:
    if isinstance(left, date):
        left = left.isoformat()
    if isinstance(right, date):
        right = right.isoformat()
    if isinstance(left, int | float) and isinstance(right, int | float) and not isinstance(left, bool):
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-9)
    if left is not None and right is not None and not isinstance(left, str | bool):
        return math.isclose(float(left), float(right), rel_tol=1e-9)
    return bool(left == right)


def assert_rows_equal(got: list[list[Any]], expected: list[list[Any]]) -> None:
    assert len(got) == len(expected), (got[:5], expected[:5])
    for got_row, expected_row in zip(got, expected, strict=True):
        assert all(same(a, b) for a, b in zip(got_row, expected_row, strict=True)), (got_row, expected_row)


filters_strategy = st.lists(
    st.one_of(
        st.builds(lambda value: Filter(dimension="region", op="eq", value=value), st.sampled_from(REGIONS[:3])),
        st.builds(lambda value: Filter(dimension="region", op="ne", value=value), st.sampled_from(REGIONS[:3])),
        st.builds(
            lambda values: Filter(dimension="channel", op="in", value=values),
            st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True),
        ),
        st.builds(
            lambda values: Filter(dimension="channel", op="not_in", value=values),
            st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True),
        ),
        st.builds(
            lambda value: Filter(dimension="channel", op="contains", value=value), st.sampled_from(["e", "o", "we"])
        ),
        st.builds(lambda value: Filter(dimension="region", op="gte", value=value), st.sampled_from(["east", "south"])),
        st.builds(lambda value: Filter(dimension="returned", op="eq", value=value), st.booleans()),
    ),
    max_size=2,
)


@st.composite
def query_specs(draw: st.DrawFn) -> QuerySpec:
    first = draw(st.integers(min_value=-20, max_value=DAYS))
    length = draw(st.integers(min_value=1, max_value=DAYS))
    names = draw(st.lists(st.sampled_from(sorted(METRICS)), min_size=1, max_size=3, unique=True))
    return QuerySpec(
        metrics=names,
        grain=draw(st.sampled_from(["day", "week", "month", "quarter", "year"])),
        start=FIRST_DAY + timedelta(days=first),
        end=FIRST_DAY + timedelta(days=first + length),
        group_by=draw(st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True)),
        filters=draw(filters_strategy),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=query_specs())
def test_random_queries_equal_hand_written_sql(sales: Engine, spec: QuerySpec) -> None:
    expected = hand_written(sales, spec)
    with sales.connect() as connection:
        checked = queries.plan(connection, spec, TIMEZONE, OPERATOR)
        answered = queries.run(connection, checked, TIMEZONE, OPERATOR)
        from_table = queries.run(connection, dataclasses.replace(checked, rollup=None), TIMEZONE, OPERATOR)
    distinct = any(METRICS[name][0] == "count_distinct" for name in spec.metric_names)
    assert answered.source == ("table" if distinct else "rollup")
    assert from_table.source == "table"
    assert_rows_equal(answered.rows, expected)
    assert_rows_equal(from_table.rows, expected)


def spec(**fields: Any) -> QuerySpec:
    values: dict[str, Any] = {"metric": "n", "start": "2024-01-01", "end": "2025-01-01", "grain": "month"}
    values.update(fields)
    return QuerySpec.model_validate(values)


def test_a_stale_rollup_is_not_used(sales: Engine, load: Importer) -> None:
    with sales.connect() as connection:
        assert queries.plan(connection, spec(), TIMEZONE, OPERATOR).rollup is not None
    more = b"sold_at,region,channel,amount,units,returned,customer\n2024-03-03T10:00:00+00:00,north,web,5,1,false,c\n"
    load("sales", "more.csv", more, mode="append")
    with sales.connect() as connection:
        checked = queries.plan(connection, spec(), TIMEZONE, OPERATOR)
        assert checked.rollup is None
        assert queries.run(connection, checked, TIMEZONE, OPERATOR).source == "table"
    rollups.refresh_stale(sales, "sales")
    with sales.connect() as connection:
        assert queries.plan(connection, spec(), TIMEZONE, OPERATOR).rollup is not None


def test_partial_days_and_other_zones_use_the_table(sales: Engine) -> None:
    with sales.connect() as connection:
        assert queries.plan(connection, spec(start="2024-01-01T06:00:00"), TIMEZONE, OPERATOR).rollup is None
        assert queries.plan(connection, spec(), "Europe/Paris", OPERATOR).rollup is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "nope"}, "unknown metric 'nope'"),
        ({"group_by": ["customer"]}, "unknown dimension 'customer': metric n allows region, channel, returned"),
        ({"filters": [{"dimension": "units", "op": "eq", "value": 1}]}, "unknown dimension 'units'"),
        ({"filters": [{"dimension": "region", "op": "eq", "value": 3}]}, "filter on region: text needs text values"),
        ({"filters": [{"dimension": "returned", "op": "contains", "value": "t"}]}, "boolean needs true or false"),
        ({"order_by": [{"field": "amount"}]}, "order_by 'amount' is not a column of the result"),
    ],
)
def test_bad_queries_say_what(sales: Engine, fields: dict[str, Any], message: str) -> None:
    with sales.connect() as connection, pytest.raises(InvalidInputError, match=message):
        queries.plan(connection, spec(**fields), TIMEZONE, OPERATOR)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"end": "2023-12-31"}, "end must be after start"),
        ({"grain": "hour"}, "grain"),
        ({"metric": None}, "give either metric or metrics"),
        ({"filters": [{"dimension": "region", "op": "in", "value": "north"}]}, "needs a non-empty list"),
    ],
)
def test_malformed_queries_are_refused_before_running(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec(**fields)


@pytest.fixture
def cache(redis_url: str) -> Iterator[QueryCache]:
    client = redis.Redis.from_url(redis_url)
    yield QueryCache(client, SIGNING_KEY)
    for key in client.scan_iter("bi-agent:query:*"):
        client.delete(key)
    client.close()


def test_cache_hits_and_an_import_makes_entries_unreachable(sales: Engine, load: Importer, cache: QueryCache) -> None:
    question = spec(group_by=["region"])
    with sales.connect() as connection:
        first, cached_first = ask(connection, cache, question, reader("scope-a"))
        second, cached_second = ask(connection, cache, question, reader("scope-a"))
        other_scope, cached_other = ask(connection, cache, question, reader("scope-b"))
    assert (cached_first, cached_second, cached_other) == (False, True, False)
    assert first == second == other_scope
    more = b"sold_at,region,channel,amount,units,returned,customer\n2024-03-03T10:00:00+00:00,north,web,5,1,false,c\n"
    load("sales", "more.csv", more, mode="append")
    with sales.connect() as connection:
        after, cached_after = ask(connection, cache, question, reader("scope-a"))
    assert not cached_after
    assert after["data_version"] == first["data_version"] + 1
    north_march = [row for row in after["rows"] if row[0] == "2024-03-01" and row[1] == "north"]
    north_march_before = [row for row in first["rows"] if row[0] == "2024-03-01" and row[1] == "north"]
    assert north_march[0][2] == north_march_before[0][2] + 1


def test_a_rewritten_cache_entry_is_not_served(
    sales: Engine, cache: QueryCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone who reaches Redis rewrites a cached answer, or moves one under another key.
    question = spec(group_by=["region"])
    with sales.connect() as connection:
        honest, _ = ask(connection, cache, question, reader("scope-a"))
    (raw_key,) = list(cache.client.scan_iter("bi-agent:query:*"))
    key = raw_key.decode()
    stored = cache.client.get(key)
    assert isinstance(stored, bytes)
    forged = stored.replace(str(honest["rows"][0][2]).encode(), b"999999", 1)
    assert forged != stored
    cache.client.set(key, forged)
    # The same bytes sealed by a cache with another key fail the same way.
    QueryCache(cache.client, b"x" * 32).put(key, {**honest, "rows": [["2024-01-01", "north", 999999]]})
    before = QUERY_CACHE.labels("rejected")._value.get()
    with sales.connect() as connection:
        again, cached = ask(connection, cache, question, reader("scope-a"))
    assert not cached
    assert again["rows"] == honest["rows"]
    assert QUERY_CACHE.labels("rejected")._value.get() == before + 1
    # An honest entry kept past its time (stored again without a TTL) is not served either.
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: 0.0)
        cache.put(key, {**honest, "rows": []})
    with sales.connect() as connection:
        _, cached = ask(connection, cache, question, reader("scope-a"))
    assert not cached
    assert QUERY_CACHE.labels("rejected")._value.get() == before + 2


def test_redis_down_answers_from_postgres(sales: Engine) -> None:
    dead = QueryCache(redis.Redis(port=free_port(), socket_connect_timeout=0.5), SIGNING_KEY)
    with sales.connect() as connection:
        result, cached = ask(connection, dead, spec(), reader("scope"))
    assert not cached and result["rows"]


def test_a_changed_metric_is_not_answered_from_the_cache(sales: Engine, cache: QueryCache) -> None:
    with sales.connect() as connection:
        total, _ = ask(connection, cache, spec(metric="units_sum"), reader("scope"))
    with sales.begin() as connection:
        definition = metrics.MetricDefinition(
            name="units_sum", dataset="sales", aggregation="max", column="units", time_column="sold_at"
        )
        metrics.replace_metric(connection, "units_sum", definition, TIMEZONE, phi_allowed=True)
    with sales.connect() as connection:
        maximum, cached = ask(connection, cache, spec(metric="units_sum"), reader("scope"))
    assert not cached
    assert maximum["rows"] != total["rows"]


@pytest.mark.parametrize(
    ("grain", "start", "end", "earlier_start", "earlier_end"),
    [
        ("month", "2024-07-01", "2025-01-01", "2024-01-01", "2024-07-01"),
        ("week", "2024-03-04", "2024-03-18", "2024-02-19", "2024-03-04"),
        ("day", "2024-05-10", "2024-05-13", "2024-05-07", "2024-05-10"),
        ("quarter", "2024-10-01", "2025-01-01", "2024-07-01", "2024-10-01"),
    ],
)
def test_compare_with_the_previous_period(
    sales: Engine, cache: QueryCache, grain: str, start: str, end: str, earlier_start: str, earlier_end: str
) -> None:
    fields: dict[str, Any] = {"metrics": ["n", "amount_sum"], "metric": None, "grain": grain, "group_by": ["channel"]}
    with sales.connect() as connection:
        compared, _ = ask(
            connection, cache, spec(start=start, end=end, compare="previous_period", **fields), reader("s")
        )
        earlier, _ = ask(connection, cache, spec(start=earlier_start, end=earlier_end, **fields), reader("s"))
    assert compared["columns"] == [
        "period",
        "channel",
        "n",
        "amount_sum",
        "n_previous",
        "n_change_pct",
        "amount_sum_previous",
        "amount_sum_change_pct",
    ]
    # Periods line up in order: the k-th period of the range against the k-th one before it.
    current_periods = sorted({row[0] for row in compared["rows"]})
    earlier_periods = sorted({row[0] for row in earlier["rows"]})
    assert len(current_periods) == len(earlier_periods)
    lined_up = dict(zip(current_periods, earlier_periods, strict=True))
    before = {(row[0], row[1]): row for row in earlier["rows"]}
    for now in compared["rows"]:
        match = before.get((lined_up[now[0]], now[1]))
        if match is None:
            assert now[4:] == [None, None, None, None]
            continue
        assert now[4] == match[2]
        assert same(now[6], match[3])
        assert now[5] == round((now[2] - match[2]) / match[2] * 100, 2)


@pytest.mark.parametrize(
    ("grain", "start", "end", "view"),
    [
        ("month", "2024-02-01", "2024-11-01", "month"),
        ("quarter", "2024-01-01", "2025-01-01", "month"),
        ("year", "2024-01-01", "2025-03-01", "month"),
        ("month", "2024-02-03", "2024-11-01", "day"),
        ("week", "2024-02-01", "2024-11-01", "day"),
    ],
)
def test_whole_months_are_answered_from_the_monthly_view(
    sales: Engine, grain: str, start: str, end: str, view: str
) -> None:
    question = spec(
        metrics=["n", "amount_sum", "amount_avg", "units_min", "returns"],
        metric=None,
        grain=grain,
        start=start,
        end=end,
        group_by=["region"],
        filters=[{"dimension": "channel", "op": "ne", "value": "phone"}],
    )
    with sales.connect() as connection:
        checked = queries.plan(connection, question, TIMEZONE, OPERATOR)
        assert checked.rollup is not None and checked.rollup.grain == view
        answered = queries.run(connection, checked, TIMEZONE, OPERATOR)
    assert answered.source == "rollup"
    assert_rows_equal(answered.rows, hand_written(sales, question))


def test_small_cells_are_suppressed_on_both_paths(sales: Engine) -> None:
    question = QuerySpec(
        metrics=["n", "returns", "web_amount"],
        grain="week",
        start=date(2024, 1, 1),
        end=date(2025, 1, 1),
        group_by=["region", "channel"],
    )
    values = hand_written(sales, question)
    week = "date_trunc('week', sold_at AT TIME ZONE 'UTC')::date"
    statement = (
        f"SELECT count(*), count(*) FILTER (WHERE returned), count(*) FILTER (WHERE channel = 'web') "  # noqa: S608
        f"FROM analytics.sales WHERE sold_at >= '2024-01-01' AND sold_at < '2025-01-01' "
        f"GROUP BY {week}, region, channel ORDER BY {week}, region, channel"
    )
    with psycopg.connect(libpq(sales)) as connection:
        records = [list(row) for row in connection.execute(statement).fetchall()]
    expected = [
        [*row[:3], *(None if 0 < count < 11 else value for value, count in zip(row[3:], counts, strict=True))]
        for row, counts in zip(values, records, strict=True)
    ]
    hidden = [
        [index, 3 + offset]
        for index, counts in enumerate(records)
        for offset, count in enumerate(counts)
        if 0 < count < 11
    ]
    assert hidden, "the data should have small cells"
    with sales.connect() as connection:
        checked = queries.plan(connection, question, TIMEZONE, OPERATOR)
        for relation in (checked, dataclasses.replace(checked, rollup=None)):
            answered = queries.run(connection, relation, TIMEZONE, reader(min_cell_size=11))
            assert_rows_equal(answered.rows, expected)
            assert answered.suppressed_cells == hidden
            assert answered.stored()["suppressed"] is True
        assert "suppressed" not in queries.run(connection, checked, TIMEZONE, OPERATOR).stored()


def add_role(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO bi.roles (name) VALUES (:name)"), {"name": name})


def test_row_policies_are_anded_into_every_read(sales: Engine, cache: QueryCache) -> None:
    add_role(sales, "north_only")
    add_role(sales, "web_only")
    north = Filter(dimension="region", op="eq", value="north")
    web = Filter(dimension="channel", op="eq", value="web")
    with sales.begin() as connection:
        row_policies.set_policy(connection, "north_only", "sales", [north])
        row_policies.set_policy(connection, "web_only", "sales", [web])
        # Every policy of the caller's roles holds at once; a role without one adds nothing.
        assert row_policies.filters_for(connection, {"north_only", "web_only", "viewer"}, "sales") == [north, web]
        assert row_policies.filters_for(connection, {"viewer"}, "sales") == []
    question = spec(metric=None, metrics=["n", "amount_sum", "web_amount"], grain="month", group_by=["channel"])
    expected = hand_written(sales, question.model_copy(update={"filters": [north]}))
    with sales.connect() as connection:
        checked = queries.plan(connection, question, TIMEZONE, OPERATOR, policy=[north])
        assert checked.rollup is not None  # region is one of the rollup's dimensions
        assert_rows_equal(queries.run(connection, checked, TIMEZONE, OPERATOR).rows, expected)
        assert_rows_equal(
            queries.run(connection, dataclasses.replace(checked, rollup=None), TIMEZONE, OPERATOR).rows, expected
        )

        # A policy on a column the rollup does not keep sends the query to the table.
        customer = Filter(dimension="customer", op="in", value=["cust1", "cust2", "cust3"])
        narrow = queries.plan(connection, question, TIMEZONE, OPERATOR, policy=[customer])
        assert narrow.rollup is None
        expected_narrow = hand_written(sales, question.model_copy(update={"filters": [customer]}))
        assert_rows_equal(queries.run(connection, narrow, TIMEZONE, OPERATOR).rows, expected_narrow)

        # Through answer(): the roles decide, and two policies never share a cache entry.
        limited, _ = ask(connection, cache, question, reader("north_only"))
        whole, cached = ask(connection, cache, question, reader())
    assert not cached
    assert_rows_equal(limited["rows"], expected)
    assert_rows_equal(whole["rows"], hand_written(sales, question))


def test_row_policies_are_checked_against_the_dataset(sales: Engine) -> None:
    add_role(sales, "checked")
    cases: list[tuple[str, list[Filter], type[Exception], str]] = [
        ("nobody", [Filter(dimension="region", op="eq", value="north")], NotFoundError, "no role nobody"),
        ("checked", [Filter(dimension="planet", op="eq", value="mars")], InvalidInputError, "has no column planet"),
        ("checked", [Filter(dimension="units", op="eq", value="many")], InvalidInputError, "bigint needs numbers"),
        ("checked", [], InvalidInputError, "at least one filter"),
    ]
    for role, filters, error, message in cases:
        with sales.begin() as connection, pytest.raises(error, match=message):
            row_policies.set_policy(connection, role, "sales", filters)
    with sales.begin() as connection, pytest.raises(NotFoundError, match="has no row policy"):
        row_policies.delete_policy(connection, "checked", "sales")
