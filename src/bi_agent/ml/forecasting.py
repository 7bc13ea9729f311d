"""KPI forecasts: a metric's history from the analytics catalog, one exponential-smoothing
model per series, future values with prediction intervals, and a backtest against naive
forecasts on the series' own latest periods.

Why statsmodels' ETS (error, trend, season) and not scikit-learn on calendar and lag
features: a KPI series is short (two years of months is 24 points). ETS has a handful of
parameters, fitted by maximum likelihood, extrapolates a (damped) trend, and its
state-space form gives prediction intervals in closed form for additive errors. A tree
model on lags would need far more history, cannot go beyond the values it has seen, and
would need a second model (quantiles or a bootstrap) for the interval.

The model is chosen by rule, not by search, so that one forecast costs two fits per
series (the backtest's and the final one): additive errors, an additive damped trend,
and an additive season of the grain's natural period (7 days, 52 weeks, 12 months, 4
quarters) when the history holds at least two whole seasons and a little more.

History ends with the last complete period: never the current one, nor a last period the
data stops inside (a half month would read as a fall). Gaps are periods without records:
zero for counts and sums, interpolated for averages, minima and maxima, and for values
hidden as small cells (HIPAA mode), which the reply shows as null.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from bi_agent.catalog import kpis, metrics, queries
from bi_agent.catalog.query_cache import QueryCache, cache_key
from bi_agent.catalog.query_spec import MAX_ROWS, Filter, Grain, QuerySpec, shift_period
from bi_agent.errors import InvalidInputError
from bi_agent.infra.telemetry import FORECASTS
from bi_agent.security.read_scope import ReadScope

# How far ahead each grain may look: beyond this an interval says little.
MAX_HORIZON: dict[str, int] = {"day": 366, "week": 104, "month": 36, "quarter": 12, "year": 5}
# The latest periods a forecast reads: enough for several seasons, and a fit under a second.
MAX_HISTORY: dict[str, int] = {"day": 730, "week": 260, "month": 240, "quarter": 80, "year": 50}
SEASON: dict[str, int | None] = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}
# A fit needs this many periods; the backtest holds out up to `horizon` more.
MIN_FIT = 8
MIN_BACKTEST = 2
MIN_HISTORY = MIN_FIT + MIN_BACKTEST
# Series forecast for one request (the largest groups); the rest are counted, not fitted.
MAX_GROUPS = 10
# Metrics whose value can never be negative: their forecast and interval are cut at zero.
NON_NEGATIVE = frozenset({"count", "count_distinct"})
# Metrics for which a period without records is a zero, not a gap.
ZERO_WHEN_EMPTY = frozenset({"count", "count_distinct", "sum"})


class ForecastRequest(BaseModel):
    """A forecast asked for: the body of `POST /api/v1/forecast`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1, max_length=63, description="A metric of the analytics catalog")
    grain: Grain = Field(default="month", description="The period of each value")
    horizon: int = Field(
        ge=1,
        le=max(MAX_HORIZON.values()),
        description="Periods to forecast: at most 366 days, 104 weeks, 36 months, 12 quarters or 5 years",
    )
    group_by: list[str] = Field(
        default_factory=list, max_length=2, description="Dimensions: one series per group (the 10 largest)"
    )
    filters: list[Filter] = Field(default_factory=list, max_length=20, description="As in a query")
    interval: float = Field(default=0.95, ge=0.5, le=0.99, description="Coverage of the prediction interval")

    def canonical(self) -> str:
        return json.dumps(
            {
                "metric": self.metric,
                "grain": self.grain,
                "horizon": self.horizon,
                "group_by": sorted(self.group_by),
                "filters": sorted(json.dumps(item.model_dump(mode="json"), sort_keys=True) for item in self.filters),
                "interval": self.interval,
            },
            sort_keys=True,
        )


class Backtest(BaseModel):
    """The model refitted without the last `periods` periods and scored on them, beside
    the naive forecast (the last value carried on) and, with a season, the seasonal naive
    one (the value one season earlier)."""

    periods: int
    mae: float
    naive_mae: float
    seasonal_naive_mae: float | None
    beats_naive: bool
    skill: float | None = Field(
        description="1 - MAE / the best naive MAE: above zero the model adds something over the naive"
    )


class HistoryPoint(BaseModel):
    period: date
    value: float | None = Field(description="null: hidden (a small cell); the fit used an interpolated value")


class ForecastPoint(BaseModel):
    period: date
    value: float
    lower: float
    upper: float


class Series(BaseModel):
    """One group's history, forecast and backtest."""

    group: dict[str, Any]
    method: str
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    backtest: Backtest


class SkippedGroup(BaseModel):
    """A group that could not be forecast, and why (never naming its values)."""

    group: dict[str, Any]
    reason: str


class Forecast(BaseModel):
    """A metric's forecast: one series per group, with what it was computed from."""

    metric: str
    grain: Grain
    horizon: int
    interval: float
    group_by: list[str]
    dataset: str
    data_version: int
    source: str = Field(description="rollup or table, as in a query")
    history_end: date = Field(description="The end (exclusive) of the last complete period")
    series: list[Series]
    skipped: list[SkippedGroup]
    omitted_groups: int = Field(description="Groups beyond the 10 largest (by total value), not forecast")
    suppressed: bool | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="In HIPAA mode: whether small cells were hidden",
    )
    cached: bool = Field(default=False, description="Whether the reply came from the cache")


@dataclass(frozen=True)
class Fit:
    method: str
    mean: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]


@dataclass
class _History:
    """One series as the query gave it: period → value (None when hidden)."""

    group: tuple[Any, ...]
    values: dict[date, float | None] = field(default_factory=dict)

    @property
    def size(self) -> float:
        return sum(abs(value) for value in self.values.values() if value is not None)


def check_request(request: ForecastRequest) -> None:
    """The horizon's limit of the request's grain (the model bounds it by the longest)."""
    limit = MAX_HORIZON[request.grain]
    if not 1 <= request.horizon <= limit:
        raise InvalidInputError(f"horizon {request.horizon} at grain {request.grain}: give 1 to {limit} periods")


def answer(
    connection: Connection,
    cache: QueryCache,
    request: ForecastRequest,
    timezone: str,
    scope: ReadScope,
    *,
    today: date,
) -> Forecast:
    """The forecast, `cached` when it came from the cache. The key holds what a query's key
    holds (data_version, definitions, scope, row policy) and today's date, which moves the end
    of the history."""
    check_request(request)
    dataset, data_version, definitions = metrics.fingerprint(connection, [request.metric])
    policy = scope.row_filters(connection, dataset)
    shape = [
        timezone,
        today.isoformat(),
        f"cells>={scope.min_cell_size}",
        json.dumps([item.model_dump(mode="json") for item in policy]),
    ]
    key = cache_key("forecast:" + request.canonical(), dataset, data_version, [*definitions, *shape], scope.cache_scope)
    cached = cache.get(key)
    if cached is not None:
        return Forecast.model_validate({**cached, "cached": True})
    result, storable = forecast(connection, request, timezone, scope, today=today, policy=policy)
    if storable and result.data_version == data_version:
        cache.put(key, result.model_dump(mode="json", exclude={"cached"}))
    return result


def forecast(
    connection: Connection,
    request: ForecastRequest,
    timezone: str,
    scope: ReadScope,
    *,
    today: date,
    policy: Sequence[Filter] | None = None,
) -> tuple[Forecast, bool]:
    """The forecast and whether a cache may keep it (`queries.storable`: not when it shows
    PHI values)."""
    check_request(request)
    (metric,) = metrics.find_metrics(connection, [request.metric])
    try:
        kpis.check_answerable(connection, metric)
    except InvalidInputError as error:
        raise InvalidInputError(f"metric {metric.name} cannot be forecast: {error}") from None
    grain = request.grain
    end = history_end(connection, metric, grain, timezone, today)
    start = shift_period(end, grain, -MAX_HISTORY[grain])
    spec = QuerySpec(
        metric=metric.name,
        grain=grain,
        start=start,
        end=end,
        group_by=list(request.group_by),
        filters=list(request.filters),
        limit=MAX_ROWS,
    )
    checked = queries.plan(connection, spec, timezone, scope, policy=policy)
    result = queries.run(connection, checked, timezone, scope)
    histories = _histories(metric, result.rows, len(request.group_by))
    if not histories:
        raise InvalidInputError(
            f"metric {metric.name} has no values before {end.isoformat()} at grain {grain}: nothing to forecast from"
        )
    chosen = sorted(histories, key=lambda item: item.size, reverse=True)[:MAX_GROUPS]
    series: list[Series] = []
    skipped: list[SkippedGroup] = []
    for item in sorted(chosen, key=lambda item: [str(value) for value in item.group]):
        group = dict(zip(request.group_by, item.group, strict=True))
        try:
            series.append(_forecast_series(item, request, metric.aggregation, end, group))
        except InvalidInputError as error:
            # One short or hidden series does not sink the others; a reply with none is a 422.
            # The reason never names the group: its values may be PHI, and errors are logged.
            skipped.append(SkippedGroup(group=group, reason=str(error)))
    if not series:
        prefix = f"none of the {len(chosen)} groups can be forecast; the first: " if request.group_by else ""
        raise InvalidInputError(prefix + skipped[0].reason)
    FORECASTS.labels(metric.name).inc()
    reply = Forecast(
        metric=metric.name,
        grain=grain,
        horizon=request.horizon,
        interval=request.interval,
        group_by=request.group_by,
        dataset=result.dataset,
        data_version=result.data_version,
        source=result.source,
        history_end=end,
        series=series,
        skipped=skipped,
        omitted_groups=len(histories) - len(chosen),
        suppressed=None if result.suppressed_cells is None else bool(result.suppressed_cells),
    )
    return reply, queries.storable(checked)


def history_end(connection: Connection, metric: metrics.Metric, grain: Grain, timezone: str, today: date) -> date:
    """The end (exclusive) of the last complete period: before today's period, and before
    the period the data stops inside unless it stops on that period's last day."""
    latest = kpis.latest_day(connection, metric, timezone)
    if latest is None:
        raise InvalidInputError(f"dataset {metric.dataset} of metric {metric.name} has no rows: nothing to forecast")
    return min(kpis.period_start(latest + timedelta(days=1), grain), kpis.period_start(today, grain))


def _histories(metric: metrics.Metric, rows: list[list[Any]], group_count: int) -> list[_History]:
    by_group: dict[tuple[Any, ...], _History] = {}
    for row in rows:
        group = tuple(row[1 : 1 + group_count])
        history = by_group.setdefault(group, _History(group))
        history.values[date.fromisoformat(row[0])] = kpis.number(metric, row[1 + group_count])
    return list(by_group.values())


def _forecast_series(
    history: _History, request: ForecastRequest, aggregation: str, end: date, group: dict[str, Any]
) -> Series:
    """One series' forecast and backtest; InvalidInputError when it is too short to fit."""
    grain = request.grain
    first = min(history.values)
    periods = _periods(first, end, grain)
    if len(periods) < MIN_HISTORY:
        raise InvalidInputError(
            f"metric {request.metric} has {len(periods)} {grain} periods of history before "
            f"{end.isoformat()}; a forecast needs at least {MIN_HISTORY}. Use a finer grain or wait for more data"
        )
    shown = [history.values.get(period, 0.0 if aggregation in ZERO_WHEN_EMPTY else None) for period in periods]
    values = _filled(shown)
    season = SEASON[grain]
    held_out = min(request.horizon, len(values) - MIN_FIT)
    fitted = values[:-held_out]
    check = fit_and_forecast(fitted, held_out, season, request.interval)
    actual = values[-held_out:]
    seasonal_naive = None
    if season is not None and len(fitted) >= season:
        seasonal_naive = _mae(np.resize(fitted[-season:], held_out), actual)
    mae = _mae(check.mean, actual)
    naive_mae = _mae(np.full(held_out, fitted[-1]), actual)
    best_naive = min(value for value in (naive_mae, seasonal_naive) if value is not None)
    backtest = Backtest(
        periods=held_out,
        mae=round(mae, 6),
        naive_mae=round(naive_mae, 6),
        seasonal_naive_mae=_rounded(seasonal_naive),
        beats_naive=mae < best_naive,
        skill=None if best_naive == 0 else round(1 - mae / best_naive, 4),
    )
    final = fit_and_forecast(values, request.horizon, season, request.interval)
    mean, lower, upper = final.mean, final.lower, final.upper
    if aggregation in NON_NEGATIVE:
        mean, lower, upper = (np.maximum(array, 0.0) for array in (mean, lower, upper))
    future = [shift_period(end, grain, step) for step in range(request.horizon)]
    return Series(
        group=group,
        method=final.method,
        history=[
            HistoryPoint(period=period, value=_rounded(value)) for period, value in zip(periods, shown, strict=True)
        ],
        forecast=[
            ForecastPoint(period=period, value=round(value, 6), lower=round(low, 6), upper=round(high, 6))
            for period, value, low, high in zip(future, mean.tolist(), lower.tolist(), upper.tolist(), strict=True)
        ],
        backtest=backtest,
    )


def fit_and_forecast(values: npt.NDArray[np.float64], horizon: int, season: int | None, interval: float) -> Fit:
    """ETS fitted on `values` and its next `horizon` values with their interval. A constant
    series is forecast as itself (a likelihood fit of a flat line is degenerate)."""
    if np.ptp(values) == 0:
        flat = np.full(horizon, values[-1])
        return Fit("constant", flat, flat.copy(), flat.copy())
    # Two whole seasons and one period more, or the seasonal start values are guesses.
    seasonal = season is not None and len(values) >= 2 * season + 1
    # Imported here: statsmodels takes seconds to import, which every other route would pay.
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        pd.Series(values),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=season if seasonal else None,
    )
    with warnings.catch_warnings():
        # Convergence notes from the optimiser: the fit is still the best it found.
        warnings.simplefilter("ignore")
        fitted = model.fit(disp=False)
        frame = fitted.get_prediction(start=len(values), end=len(values) + horizon - 1).summary_frame(
            alpha=1 - interval
        )
    mean = frame["mean"].to_numpy(dtype=float)
    lower = frame["pi_lower"].to_numpy(dtype=float)
    upper = frame["pi_upper"].to_numpy(dtype=float)
    if not (np.isfinite(mean).all() and np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise InvalidInputError("the forecast model found no stable fit for this series; try another grain")
    method = f"ETS(A,Ad,{'A' if seasonal else 'N'})" + (f" season {season}" if seasonal else "")
    return Fit(method, mean, lower, upper)


def _periods(first: date, end: date, grain: str) -> list[date]:
    periods = []
    step = 0
    while (period := shift_period(first, grain, step)) < end:
        periods.append(period)
        step += 1
    return periods


def _filled(values: list[float | None]) -> npt.NDArray[np.float64]:
    """Gaps linearly interpolated between their neighbours (and carried at the ends)."""
    series = pd.Series([math.nan if value is None else value for value in values], dtype=float)
    if series.isna().all():
        raise InvalidInputError("every value of this series is hidden (small cells): nothing to forecast from")
    return np.asarray(series.interpolate(limit_direction="both"), dtype=np.float64)


def _mae(predicted: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(predicted - actual)))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
