/** Forecasts of a metric (ML service POST /api/v1/forecast) and the series a chart draws from one. */

import type { components } from "./api/ml";
import type { Grain } from "./types";

export type ForecastRequest = components["schemas"]["ForecastRequest"];

// TODO(api-types): POST /api/v1/forecast (ml) reply is untyped today: Backtest, ForecastSeries, ForecastReply.
export interface Backtest {
  periods: number;
  mae: number | null;
  naive_mae: number | null;
  seasonal_naive_mae: number | null;
  beats_naive: boolean;
  skill: number | null;
}

export interface ForecastSeries {
  group: Record<string, unknown>;
  method: string;
  history: { period: string; value: number | null }[];
  forecast: { period: string; value: number | null; lower: number | null; upper: number | null }[];
  backtest: Backtest;
}

export interface ForecastReply {
  metric: string;
  grain: Grain;
  horizon?: number;
  interval?: number;
  history_end: string;
  series: ForecastSeries[];
  skipped: { group: Record<string, unknown>; reason: string }[];
  omitted_groups: number;
  cached: boolean;
  suppressed?: boolean;
}

/** The largest horizon the service takes at each grain. */
export const MAX_HORIZON: Record<Grain, number> = { day: 366, week: 104, month: 36, quarter: 12, year: 5 };
export const DEFAULT_HORIZON: Record<Grain, number> = { day: 30, week: 12, month: 6, quarter: 4, year: 2 };

export function horizonProblem(grain: Grain, horizon: number): string | null {
  const max = MAX_HORIZON[grain];
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > max) {
    return `Give a horizon from 1 to ${max} ${grain}s.`;
  }
  return null;
}

export function groupLabel(group: Record<string, unknown>): string {
  const parts = Object.entries(group).map(([key, value]) => `${key} = ${value === null ? "(none)" : String(value)}`);
  return parts.length === 0 ? "All" : parts.join(", ");
}

export interface ForecastChartData {
  categories: string[];
  /** Actual values on the history periods, null on the future ones. */
  history: (number | null)[];
  /** The forecast on the future periods, joined to the last actual value so the line is continuous. */
  forecast: (number | null)[];
  /** The interval as a stacked band: its lower edge, then its height above that edge. */
  lower: (number | null)[];
  band: (number | null)[];
  upper: (number | null)[];
}

/** One series of a forecast reply as the arrays an ECharts line chart with a shaded interval needs. */
export function forecastChartData(series: ForecastSeries): ForecastChartData {
  const categories = [...series.history.map((point) => point.period), ...series.forecast.map((point) => point.period)];
  const historyCount = series.history.length;
  const history: (number | null)[] = categories.map((_, i) => (i < historyCount ? (series.history[i]?.value ?? null) : null));
  const forecast: (number | null)[] = categories.map((_, i) => (i < historyCount ? null : (series.forecast[i - historyCount]?.value ?? null)));
  const lastActual = historyCount > 0 ? (series.history[historyCount - 1]?.value ?? null) : null;
  if (historyCount > 0 && series.forecast.length > 0 && lastActual !== null) forecast[historyCount - 1] = lastActual;
  const lower = categories.map((_, i) => (i < historyCount ? null : (series.forecast[i - historyCount]?.lower ?? null)));
  const upper = categories.map((_, i) => (i < historyCount ? null : (series.forecast[i - historyCount]?.upper ?? null)));
  const band = lower.map((low, i) => {
    const high = upper[i];
    return low === null || high === null || high === undefined ? null : Math.max(0, high - low);
  });
  return { categories, history, forecast, lower, band, upper };
}

/** The backtest in words: how the model did on its latest periods against the naive forecasts. */
export function backtestSummary(backtest: Backtest): string {
  const f = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const show = (value: number | null) => (value === null ? "—" : f.format(value));
  const naive = [backtest.naive_mae, backtest.seasonal_naive_mae].filter((v): v is number => v !== null);
  const best = naive.length ? Math.min(...naive) : null;
  const verdict = backtest.beats_naive ? "beats the naive forecast" : "does not beat the naive forecast";
  const skill = backtest.skill === null ? "" : `, skill ${Math.round(backtest.skill * 100)}%`;
  return `Over the last ${backtest.periods} periods the model's MAE is ${show(backtest.mae)} against ${show(best)} for the best naive forecast: it ${verdict}${skill}.`;
}
