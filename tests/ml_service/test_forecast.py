"""Forecasts over HTTP: a seasonal metric carried forward with intervals, a backtest that
beats the naive forecasts, groups, the history's end, row policies, the cache, and every
bad request as a clear 4xx."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from bi_agent.catalog import metrics, rollups, row_policies
from bi_agent.catalog.query_spec import Filter
from bi_agent.ml import forecasting
from bi_agent.security import roles
from tests.analytics_api.conftest import Api, bearer
from tests.catalog.conftest import Importer

TIMEZONE = "UTC"
FIRST_DAY = date(2022, 1, 1)
LAST_DAY = date(2025, 12, 31)


def sales_csv(first: date = FIRST_DAY, last: date = LAST_DAY, seed: int = 5) -> bytes:
    """One row a day per region: a yearly season, a rising trend and noise. North is twice
    south's size."""
    rng = np.random.default_rng(seed)
    lines = ["sold_at,region,amount"]
    day = first
    while day <= last:
        index = (day - FIRST_DAY).days
        season = 40 * math.sin(2 * math.pi * (day.month - 1) / 12)
        for region, scale in (("north", 2.0), ("south", 1.0)):
            amount = scale * (100 + 0.08 * index + season) + rng.normal(0, 6)
            lines.append(f"{day.isoformat()},{region},{amount:.2f}")
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode()


def define(engine: Engine, name: str, dataset: str, aggregation: Any = "sum") -> None:
    with engine.begin() as connection:
        definition = metrics.MetricDefinition(
            name=name,
            dataset=dataset,
            aggregation=aggregation,
            column="amount" if aggregation != "count" else None,
            time_column="sold_at",
            dimensions=["region"],
        )
        metrics.create_metric(connection, definition, None, TIMEZONE, phi_allowed=True)


@pytest.fixture
def revenue(ml: Api, load: Importer, engine: Engine) -> str:
    load("sales", "sales.csv", sales_csv())
    define(engine, "revenue", "sales")
    define(engine, "orders", "sales", "count")
    rollups.refresh_stale(engine, "sales")
    return "revenue"


def forecast(ml: Api, body: dict[str, Any], role: str = "analyst", **headers: str) -> Any:
    return ml.client.post("/api/v1/forecast", json=body, headers={**ml.headers(role), **headers})


def monthly_totals(csv: bytes) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in csv.decode().splitlines()[1:]:
        day, _region, amount = line.split(",")
        totals[day[:7]] = totals.get(day[:7], 0.0) + float(amount)
    return totals


def test_a_seasonal_metric_is_forecast_with_intervals_and_beats_the_naive_forecasts(ml: Api, revenue: str) -> None:
    reply = forecast(ml, {"metric": revenue, "grain": "month", "horizon": 12})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["history_end"] == "2026-01-01"
    assert body["cached"] is False
    (series,) = body["series"]
    assert series["group"] == {}
    assert series["method"] == "ETS(A,Ad,A) season 12"
    # The history is the metric's monthly sums, every month from the first to the last complete one.
    expected = monthly_totals(sales_csv())
    assert [point["period"][:7] for point in series["history"]] == sorted(expected)
    for point in series["history"]:
        assert point["value"] == pytest.approx(expected[point["period"][:7]], rel=1e-9)
    future = series["forecast"]
    assert [point["period"] for point in future] == [f"2026-{month:02d}-01" for month in range(1, 13)]
    for point in future:
        assert point["lower"] < point["value"] < point["upper"]
    # Uncertainty grows with the distance.
    assert future[-1]["upper"] - future[-1]["lower"] > future[0]["upper"] - future[0]["lower"]
    # The season carries on: the summer peak over the winter trough, as in the history.
    assert future[3]["value"] > future[9]["value"]
    backtest = series["backtest"]
    assert backtest["periods"] == 12
    assert backtest["beats_naive"] is True
    assert backtest["mae"] < backtest["naive_mae"]
    assert backtest["mae"] < backtest["seasonal_naive_mae"]
    assert 0 < backtest["skill"] < 1


def test_the_backtest_is_the_model_refitted_without_its_last_periods(ml: Api, revenue: str) -> None:
    body = forecast(ml, {"metric": revenue, "grain": "month", "horizon": 6}).json()
    (series,) = body["series"]
    values = np.array([point["value"] for point in series["history"]])
    fit = forecasting.fit_and_forecast(values[:-6], 6, 12, 0.95)
    actual = values[-6:]
    assert series["backtest"]["mae"] == pytest.approx(float(np.mean(np.abs(fit.mean - actual))), rel=1e-4)
    assert series["backtest"]["naive_mae"] == pytest.approx(float(np.mean(np.abs(values[-7] - actual))), rel=1e-6)
    seasonal = float(np.mean(np.abs(values[-18:-12] - actual)))
    assert series["backtest"]["seasonal_naive_mae"] == pytest.approx(seasonal, rel=1e-6)


def test_one_series_per_group_and_a_repeat_from_the_cache(ml: Api, revenue: str) -> None:
    body = {"metric": revenue, "grain": "quarter", "horizon": 4, "group_by": ["region"], "interval": 0.8}
    first = forecast(ml, body)
    assert first.status_code == 200, first.text
    groups = {item["group"]["region"]: item for item in first.json()["series"]}
    assert set(groups) == {"north", "south"}
    north, south = groups["north"], groups["south"]
    assert north["forecast"][0]["value"] == pytest.approx(2 * south["forecast"][0]["value"], rel=0.15)
    assert first.json()["interval"] == 0.8
    second = forecast(ml, body)
    assert second.json()["cached"] is True
    assert second.headers["X-Cache"] == "HIT"
    assert second.json()["series"] == first.json()["series"]


def test_a_row_policy_limits_the_history(ml: Api, revenue: str, engine: Engine) -> None:
    with engine.begin() as connection:
        roles.create_role(connection, "north_only", "", ["queries:run"])
        row_policies.set_policy(connection, "north_only", "sales", [Filter(dimension="region", op="eq", value="north")])
    limited = ml.add_account("north", ["north_only"])
    reply = ml.client.post(
        "/api/v1/forecast", json={"metric": revenue, "horizon": 3}, headers=bearer(ml.token(limited))
    )
    assert reply.status_code == 200, reply.text
    everyone = forecast(ml, {"metric": revenue, "horizon": 3}).json()
    limited_history = reply.json()["series"][0]["history"]
    full_history = everyone["series"][0]["history"]
    # North is two thirds of the whole.
    assert limited_history[0]["value"] == pytest.approx(full_history[0]["value"] * 2 / 3, rel=0.05)


def test_the_history_ends_with_the_last_complete_period(ml: Api, load: Importer, engine: Engine) -> None:
    # The data stops on 15 December: December is half a month and is left out.
    load("partial", "partial.csv", sales_csv(last=date(2025, 12, 15)))
    define(engine, "partial_revenue", "partial")
    body = forecast(ml, {"metric": "partial_revenue", "grain": "month", "horizon": 2}).json()
    assert body["history_end"] == "2025-12-01"
    assert body["series"][0]["history"][-1]["period"] == "2025-11-01"
    assert body["series"][0]["forecast"][0]["period"] == "2025-12-01"
    # At day grain the 15th itself is complete.
    daily = forecast(ml, {"metric": "partial_revenue", "grain": "day", "horizon": 7}).json()
    assert daily["history_end"] == "2025-12-16"
    assert daily["series"][0]["method"] == "ETS(A,Ad,A) season 7"


def test_months_without_records_count_as_zero_for_a_count(ml: Api, load: Importer, engine: Engine) -> None:
    content = sales_csv(first=date(2024, 1, 1), last=date(2025, 12, 31))
    kept = [line for line in content.decode().splitlines() if not line.startswith("2024-05")]
    load("gappy", "gappy.csv", ("\n".join(kept) + "\n").encode())
    define(engine, "gappy_orders", "gappy", "count")
    body = forecast(ml, {"metric": "gappy_orders", "grain": "month", "horizon": 3}).json()
    history = {point["period"]: point["value"] for point in body["series"][0]["history"]}
    assert history["2024-05-01"] == 0
    assert history["2024-06-01"] == 60
    assert all(point["lower"] >= 0 for point in body["series"][0]["forecast"])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"metric": "nope", "horizon": 3}, 422, "unknown metric 'nope'"),
        ({"metric": "revenue", "grain": "month", "horizon": 37}, 422, "horizon 37 at grain month: give 1 to 36"),
        ({"metric": "revenue", "grain": "year", "horizon": 6}, 422, "give 1 to 5"),
        ({"metric": "revenue", "horizon": 0}, 422, "horizon"),
        ({"metric": "revenue", "horizon": 3, "group_by": ["city"]}, 422, "unknown dimension 'city'"),
        ({"metric": "revenue", "horizon": 3, "interval": 1.5}, 422, "interval"),
        ({"metric": "revenue", "horizon": 3, "grain": "hour"}, 422, "grain"),
        ({"metric": "revenue"}, 422, "horizon"),
        ({"metric": "revenue", "horizon": 3, "extra": 1}, 422, "extra"),
        # Four years are four points at year grain.
        ({"metric": "revenue", "grain": "year", "horizon": 1}, 422, "has 4 year periods of history"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(
    ml: Api, revenue: str, body: dict[str, Any], status: int, words: str
) -> None:
    reply = forecast(ml, body)
    assert reply.status_code == status, reply.text
    assert words in reply.text


def test_a_metric_without_a_complete_period_is_refused(ml: Api, load: Importer, engine: Engine) -> None:
    # One day of January: the month is not over in the data, so there is no history at all.
    load("empty", "empty.csv", b"sold_at,region,amount\n2025-01-01,north,1\n")
    define(engine, "empty_revenue", "empty")
    reply = forecast(ml, {"metric": "empty_revenue", "horizon": 3})
    assert reply.status_code == 422
    assert reply.json()["detail"] == (
        "metric empty_revenue has no values before 2025-01-01 at grain month: nothing to forecast from"
    )


@pytest.mark.parametrize("postgres", ["postgres18"], indirect=True)
@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
def test_a_metric_that_cannot_be_forecast_is_refused_saying_why(ml: Api, load: Importer, engine: Engine) -> None:
    load("sales", "sales.csv", sales_csv(date(2025, 1, 1), date(2025, 4, 30)))
    # Written to the catalog directly, past the checks that refuse the first one now.
    with engine.begin() as connection:
        for name, column in (("last_region", "region"), ("last_sale", "sold_at")):
            connection.execute(
                text(
                    "INSERT INTO bi.metrics (name, dataset_id, aggregation, column_name, time_column) "
                    "SELECT :name, id, 'max', :column, 'sold_at' FROM bi.datasets WHERE name = 'sales'"
                ),
                {"name": name, "column": column},
            )
    text_extreme = forecast(ml, {"metric": "last_region", "horizon": 3})
    assert text_extreme.status_code == 422, text_extreme.text
    assert text_extreme.json()["detail"].startswith(
        "metric last_region cannot be forecast: column region is text: max of text returns one record's value"
    )
    latest_date = forecast(ml, {"metric": "last_sale", "horizon": 3})
    assert latest_date.status_code == 422, latest_date.text
    assert latest_date.json()["detail"] == "metric last_sale (max of sold_at) has values that are not numbers"


def test_a_forecast_needs_a_token_and_the_right_to_query(ml: Api, revenue: str) -> None:
    assert ml.client.post("/api/v1/forecast", json={"metric": revenue, "horizon": 3}).status_code == 401
    nobody = ml.add_account("nobody", [])
    reply = ml.client.post("/api/v1/forecast", json={"metric": revenue, "horizon": 3}, headers=bearer(ml.token(nobody)))
    assert reply.status_code == 403
    assert forecast(ml, {"metric": revenue, "horizon": 3}, role="viewer").status_code == 200


def test_a_constant_series_is_forecast_as_itself() -> None:
    fit = forecasting.fit_and_forecast(np.full(20, 5.0), 3, 12, 0.95)
    assert fit.method == "constant"
    assert list(fit.mean) == [5.0, 5.0, 5.0]


def test_hipaa_mode_a_forecast_of_phi_bearing_data_needs_a_purpose_and_hides_small_cells(
    ml: Api, load: Importer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small clinic: a handful of visits a month, so the viewer's months are small cells.
    lines = ["sold_at,region,amount,patient_name"]
    for month in range(1, 13):
        for day in range(1, 4 if month % 2 else 12):
            lines.append(f"2025-{month:02d}-{day:02d},north,1,Jane Doe")
    load("clinic", "clinic.csv", ("\n".join(lines) + "\n").encode())
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE bi.dataset_columns SET phi = true WHERE name = 'patient_name' "
                "AND dataset_id = (SELECT id FROM bi.datasets WHERE name = 'clinic')"
            )
        )
    define(engine, "clinic_visits", "clinic", "count")
    connections = ml.app.state.connections
    settings = connections.settings.model_copy(update={"hipaa_mode": True, "hipaa_min_cell_size": 5})
    monkeypatch.setattr(connections, "settings", settings)
    body = {"metric": "clinic_visits", "horizon": 2}
    refused = forecast(ml, body, role="viewer")
    assert refused.status_code == 403 and "X-Purpose" in refused.json()["detail"]
    allowed = forecast(ml, body, role="viewer", **{"X-Purpose": "OPERATIONS"})
    assert allowed.status_code == 200, allowed.text
    reply = allowed.json()
    assert reply["suppressed"] is True
    history = reply["series"][0]["history"]
    # Odd months have 3 visits (hidden), even months 11 (shown).
    assert [point["value"] for point in history[:4]] == [None, 11, None, 11]
    with engine.connect() as connection:
        record = connection.execute(
            text("SELECT dataset, purpose FROM bi.audit_log WHERE action = 'forecast' AND outcome = 'success'")
        ).one()
    assert (record.dataset, record.purpose) == ("clinic", "OPERATIONS")

    # A PHI metric (a filter on patient_name) is forecast for phi:read only.
    with engine.begin() as connection:
        definition = metrics.MetricDefinition(
            name="jane_visits",
            dataset="clinic",
            aggregation="count",
            time_column="sold_at",
            filters=[Filter(dimension="patient_name", op="eq", value="Jane Doe")],
        )
        metrics.create_metric(connection, definition, None, TIMEZONE, phi_allowed=True)
    phi_body = {"metric": "jane_visits", "horizon": 2}
    for role in ("viewer", "analyst"):
        denied = forecast(ml, phi_body, role=role, **{"X-Purpose": "OPERATIONS"})
        assert denied.status_code == 403 and "PHI column patient_name" in denied.json()["detail"], denied.text
    # Its forecast shows PHI: never kept in the cache, so asked again it is made again.
    for _ in range(2):
        answered = forecast(ml, phi_body, role="admin", **{"X-Purpose": "OPERATIONS"})
        assert answered.status_code == 200 and answered.json()["cached"] is False, answered.text
