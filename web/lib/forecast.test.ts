import { describe, expect, it } from "vitest";

import { backtestSummary, forecastChartData, groupLabel, horizonProblem, type ForecastSeries } from "./forecast";

const series: ForecastSeries = {
  group: {},
  method: "ETS(A,Ad,N)",
  history: [
    { period: "2026-01-01", value: 10 },
    { period: "2026-02-01", value: 12 },
  ],
  forecast: [
    { period: "2026-03-01", value: 13, lower: 11, upper: 15 },
    { period: "2026-04-01", value: 14, lower: 10, upper: 18 },
  ],
  backtest: { periods: 3, mae: 1.5, naive_mae: 2, seasonal_naive_mae: null, beats_naive: true, skill: 0.25 },
};

describe("forecast chart", () => {
  it("lays history and forecast on one axis, joined at the last actual value", () => {
    const data = forecastChartData(series);
    expect(data.categories).toEqual(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]);
    expect(data.history).toEqual([10, 12, null, null]);
    expect(data.forecast).toEqual([null, 12, 13, 14]);
  });

  it("draws the interval as a lower edge plus a height", () => {
    const data = forecastChartData(series);
    expect(data.lower).toEqual([null, null, 11, 10]);
    expect(data.band).toEqual([null, null, 4, 8]);
    expect(data.upper).toEqual([null, null, 15, 18]);
  });

  it("copes with hidden values and an empty history", () => {
    const hidden = forecastChartData({ ...series, history: [{ period: "2026-02-01", value: null }] });
    expect(hidden.forecast).toEqual([null, 13, 14]);
    expect(forecastChartData({ ...series, history: [] }).forecast).toEqual([13, 14]);
  });
});

describe("forecast words", () => {
  it("sums up the backtest against the best naive forecast", () => {
    expect(backtestSummary(series.backtest)).toBe(
      "Over the last 3 periods the model's MAE is 1.5 against 2 for the best naive forecast: it beats the naive forecast, skill 25%.",
    );
    expect(backtestSummary({ ...series.backtest, mae: 3, beats_naive: false, skill: -0.5 })).toMatch(/does not beat/);
  });

  it("checks the horizon for the grain and names groups", () => {
    expect(horizonProblem("month", 6)).toBeNull();
    expect(horizonProblem("month", 37)).toBe("Give a horizon from 1 to 36 months.");
    expect(horizonProblem("year", 0)).toMatch(/1 to 5/);
    expect(groupLabel({})).toBe("All");
    expect(groupLabel({ region: "north", dept: null })).toBe("region = north, dept = (none)");
  });
});
