/** A query's rows as chart series: one per metric and group, over the periods, with gaps as nulls. */

import type { Cell, QueryResult } from "./types";

export interface ChartSeries {
  name: string;
  data: (number | null)[];
}

export interface ChartData {
  categories: string[];
  series: ChartSeries[];
}

export function asNumber(cell: Cell | undefined): number | null {
  if (typeof cell === "number") return Number.isFinite(cell) ? cell : null;
  if (typeof cell === "string" && cell.trim() !== "") {
    const parsed = Number(cell);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

/** The metric columns of a result: those named by the query, in the query's order. */
export function metricColumns(result: Pick<QueryResult, "columns">, metrics: string[]): string[] {
  return metrics.filter((metric) => result.columns.includes(metric));
}

/** The dimension columns: every column but the period and the metric columns (with their comparisons). */
export function dimensionColumns(result: Pick<QueryResult, "columns">, metrics: string[]): string[] {
  const derived = new Set(metrics.flatMap((m) => [m, `${m}_previous`, `${m}_change_pct`]));
  return result.columns.filter((column) => column !== "period" && !derived.has(column));
}

export function toChartData(result: Pick<QueryResult, "columns" | "rows">, metrics: string[]): ChartData {
  const periodIndex = result.columns.indexOf("period");
  const dims = dimensionColumns(result, metrics).map((name) => result.columns.indexOf(name));
  const measured = metricColumns(result, metrics).map((name) => ({ name, index: result.columns.indexOf(name) }));
  const categories = [...new Set(result.rows.map((row) => String(row[periodIndex] ?? "")))].sort();
  const position = new Map(categories.map((period, index) => [period, index]));
  const byName = new Map<string, (number | null)[]>();
  for (const row of result.rows) {
    const group = dims.map((index) => String(row[index] ?? "(none)")).join(" · ");
    const at = position.get(String(row[periodIndex] ?? "")) ?? 0;
    for (const metric of measured) {
      const name = measured.length > 1 || group === "" ? [metric.name, group].filter(Boolean).join(" · ") : group;
      let data = byName.get(name);
      if (data === undefined) {
        data = categories.map(() => null);
        byName.set(name, data);
      }
      data[at] = asNumber(row[metric.index]);
    }
  }
  return { categories, series: [...byName.entries()].map(([name, data]) => ({ name, data })) };
}

export interface KpiFigure {
  period: string | null;
  value: number | null;
  previousPeriod: string | null;
  previous: number | null;
  changePct: number | null;
}

/** Change in percent, rounded as the API rounds its KPIs; null without a base to compare with. */
export function changePercent(value: number | null, previous: number | null): number | null {
  if (value === null || previous === null || previous === 0) return null;
  return Math.round(((value - previous) / Math.abs(previous)) * 10000) / 100;
}

/** A KPI tile's figure: the metric in the latest period of the series, against the period before it. */
export function latestFigure(result: Pick<QueryResult, "columns" | "rows">, metric: string): KpiFigure {
  const periodIndex = result.columns.indexOf("period");
  const valueIndex = result.columns.indexOf(metric);
  if (valueIndex < 0 || result.rows.length === 0) {
    return { period: null, value: null, previousPeriod: null, previous: null, changePct: null };
  }
  const rows = [...result.rows].sort((a, b) => String(a[periodIndex]).localeCompare(String(b[periodIndex])));
  const latest = rows.at(-1)!;
  const before = rows.length > 1 ? rows.at(-2)! : null;
  const value = asNumber(latest[valueIndex]);
  const previous = before === null ? null : asNumber(before[valueIndex]);
  return {
    period: String(latest[periodIndex] ?? ""),
    value,
    previousPeriod: before === null ? null : String(before[periodIndex] ?? ""),
    previous,
    changePct: changePercent(value, previous),
  };
}
