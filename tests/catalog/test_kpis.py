"""KPIs: the current period to the latest data against the same span of the period before."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import kpis, metrics, rollups
from bi_agent.catalog.query_spec import Grain, shift_period
from bi_agent.security.read_scope import ReadScope
from tests.catalog.conftest import Importer
from tests.read_scopes import OPERATOR, reader

DAILY = (
    "day,amount\n"
    + "".join(f"2024-01-{day:02d},{day}\n" for day in range(1, 32))
    + "".join(f"2024-02-{day:02d},{10 * day}\n" for day in range(1, 11))
)


@pytest.mark.parametrize(
    ("day", "grain", "start", "previous"),
    [
        (date(2024, 2, 14), "day", date(2024, 2, 14), date(2024, 2, 13)),
        (date(2024, 2, 14), "week", date(2024, 2, 12), date(2024, 2, 5)),
        (date(2024, 2, 14), "month", date(2024, 2, 1), date(2024, 1, 1)),
        (date(2024, 2, 14), "quarter", date(2024, 1, 1), date(2023, 10, 1)),
        (date(2024, 2, 14), "year", date(2024, 1, 1), date(2023, 1, 1)),
    ],
)
def test_periods(day: date, grain: Grain, start: date, previous: date) -> None:
    assert kpis.period_start(day, grain) == start
    assert shift_period(start, grain, -1) == previous


def latest(connection: Connection, grain: Grain, scope: ReadScope) -> list[dict[str, Any]]:
    """The KPI cards as the route sends them."""
    return [card.model_dump(mode="json", exclude_unset=True) for card in kpis.latest(connection, grain, scope)]


def test_month_to_date_against_the_same_days_before(load: Importer, engine: Engine) -> None:
    load("daily", "daily.csv", DAILY.encode())
    with engine.begin() as connection:
        for name, aggregation in (("amount_sum", "sum"), ("amount_avg", "avg"), ("days", "count")):
            definition = metrics.MetricDefinition(
                name=name, dataset="daily", aggregation=aggregation, column="amount", time_column="day"
            )
            metrics.create_metric(connection, definition, None, "UTC", phi_allowed=True)
    rollups.refresh_stale(engine, "daily")
    assert kpis.calculate_all(engine, date(2026, 11, 28), "UTC") == kpis.KpiRun(15, [])
    with engine.connect() as connection:
        cards = {card["metric"]: card for card in latest(connection, "month", OPERATOR)}
    # February 1-10 against January 1-10.
    assert cards["amount_sum"]["period_start"] == "2024-02-01"
    assert cards["amount_sum"]["value"] == 550.0
    assert cards["amount_sum"]["previous_value"] == 55.0
    assert cards["amount_sum"]["change_pct"] == 900.0
    assert cards["amount_avg"]["value"] == 55.0
    assert cards["days"]["change_pct"] == 0.0
    assert cards["days"]["stale"] is False
    load("daily", "more.csv", b"day,amount\n2024-02-11,1\n", mode="append")
    with engine.connect() as connection:
        assert latest(connection, "month", OPERATOR)[0]["stale"] is True


def test_small_cells_are_hidden_when_asked(load: Importer, engine: Engine) -> None:
    load("daily", "daily.csv", DAILY.encode())
    with engine.begin() as connection:
        definition = metrics.MetricDefinition(
            name="amount_sum", dataset="daily", aggregation="sum", column="amount", time_column="day"
        )
        metrics.create_metric(connection, definition, None, "UTC", phi_allowed=True)
    assert kpis.calculate_all(engine, date(2026, 11, 28), "UTC") == kpis.KpiRun(5, [])
    with engine.connect() as connection:
        # February 1-10 (10 records) against January 1-10 (10 records); the year holds 41.
        monthly = latest(connection, "month", reader(min_cell_size=11))[0]
        yearly = latest(connection, "year", reader(min_cell_size=11))[0]
        loose = latest(connection, "month", reader(min_cell_size=10))[0]
    assert (monthly["value"], monthly["previous_value"], monthly["change_pct"]) == (None, None, None)
    assert monthly["suppressed"] is True
    # The year before has no records at all: nothing to hide, only nothing to compare with.
    assert (yearly["value"], yearly["previous_value"], yearly["suppressed"]) == (1046.0, None, False)
    assert (loose["value"], loose["suppressed"]) == (550.0, False)


def stored_without_checks(engine: Engine, name: str, dataset: str, aggregation: str, column: str) -> None:
    """A metric written to the catalog directly, as a migration or an operator might, past the
    checks that would refuse it now."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bi.metrics (name, dataset_id, aggregation, column_name, time_column) "
                "SELECT :name, id, :aggregation, :column, 'day' FROM bi.datasets WHERE name = :dataset"
            ),
            {"name": name, "dataset": dataset, "aggregation": aggregation, "column": column},
        )


@pytest.mark.parametrize("postgres", ["postgres18"], indirect=True)
def test_a_metric_that_fails_leaves_the_others_their_kpis(load: Importer, engine: Engine) -> None:
    load("notes", "notes.csv", b"day,amount,note\n2024-01-02,3,Ann Smith\n2024-02-05,4,Bob Jones\n")
    with engine.begin() as connection:
        definition = metrics.MetricDefinition(
            name="amount_sum", dataset="notes", aggregation="sum", column="amount", time_column="day"
        )
        metrics.create_metric(connection, definition, None, "UTC", phi_allowed=True)
    stored_without_checks(engine, "latest_note", "notes", "max", "note")
    stored_without_checks(engine, "note_total", "notes", "sum", "note")
    stored_without_checks(engine, "last_day", "notes", "max", "day")
    run = kpis.calculate_all(engine, date(2026, 11, 28), "UTC")
    assert run == kpis.KpiRun(5, ["last_day", "latest_note", "note_total"])
    with engine.connect() as connection:
        cards = {card["metric"]: card for card in latest(connection, "month", OPERATOR)}
        small = {card["metric"]: card for card in latest(connection, "month", reader(min_cell_size=11))}
    assert cards["amount_sum"]["value"] == 4.0 and cards["amount_sum"]["error"] is None
    # Of one record, the value is hidden in HIPAA mode; a card without one has nothing to hide.
    assert (small["amount_sum"]["suppressed"], small["last_day"]["suppressed"]) == (True, False)
    assert cards["latest_note"]["error"].startswith("column note is text: max of text returns one record's value")
    assert cards["note_total"]["error"] == "column note is text; sum needs a number column"
    assert cards["last_day"]["error"] == "metric last_day (max of day) has values that are not numbers"
    assert all(cards[name]["value"] is None and cards[name]["failed_at"] for name in ("latest_note", "last_day"))
    assert not any(value in str(cards) for value in ("Ann", "Bob", "2024-02-05"))
    # Mended, the metric's card loses its error at the next calculation.
    with engine.begin() as connection:
        connection.execute(text("UPDATE bi.metrics SET aggregation = 'count' WHERE name = 'latest_note'"))
    assert kpis.calculate_all(engine, date(2026, 11, 28), "UTC").failed == ["last_day", "note_total"]
    with engine.connect() as connection:
        mended = next(card for card in latest(connection, "month", OPERATOR) if card["metric"] == "latest_note")
    assert (mended["value"], mended["error"]) == (1.0, None)
