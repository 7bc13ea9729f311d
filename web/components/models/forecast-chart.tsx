"use client";

import { LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import ReactEChartsCore from "echarts-for-react/lib/core";

import { forecastChartData, type ForecastChartData, type ForecastSeries } from "@/lib/forecast";

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

function tooltipText(data: ForecastChartData, index: number, percent: string): string {
  const lines = [escape(data.categories[index] ?? "")];
  const actual = data.history[index];
  const forecast = data.forecast[index];
  const lower = data.lower[index];
  const upper = data.upper[index];
  if (actual !== null && actual !== undefined) lines.push(`Actual: ${number.format(actual)}`);
  if (lower !== null && lower !== undefined && forecast !== null && forecast !== undefined) {
    lines.push(`Forecast: ${number.format(forecast)}`);
    if (upper !== null && upper !== undefined) lines.push(`${percent} interval: ${number.format(lower)} – ${number.format(upper)}`);
  }
  return lines.join("<br/>");
}

echarts.use([LineChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

/** History, the forecast line and its interval as a shaded band (a stacked pair: lower edge, then the height). */
export function ForecastChart({ series, label, interval }: { series: ForecastSeries; label: string; interval: number }) {
  const data = forecastChartData(series);
  const percent = `${Math.round(interval * 100)}%`;
  const option = {
    animation: false,
    tooltip: {
      trigger: "axis" as const,
      formatter: (params: { dataIndex: number }[] | { dataIndex: number }) => {
        const index = (Array.isArray(params) ? params[0] : params)?.dataIndex ?? 0;
        return tooltipText(data, index, percent);
      },
    },
    legend: { top: 0, data: ["Actual", "Forecast", `${percent} interval`] },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category" as const, data: data.categories, boundaryGap: false },
    yAxis: { type: "value" as const, scale: true },
    series: [
      {
        name: "interval-lower",
        type: "line" as const,
        data: data.lower,
        stack: "interval",
        lineStyle: { opacity: 0 },
        symbol: "none",
        tooltip: { show: false },
        silent: true,
      },
      {
        name: `${percent} interval`,
        type: "line" as const,
        data: data.band,
        stack: "interval",
        lineStyle: { opacity: 0 },
        areaStyle: { color: "rgba(36, 83, 199, 0.18)" },
        itemStyle: { color: "rgba(36, 83, 199, 0.35)" },
        symbol: "none",
        silent: true,
      },
      {
        name: "Actual",
        type: "line" as const,
        data: data.history,
        itemStyle: { color: "#1c2330" },
        showSymbol: data.categories.length < 60,
        connectNulls: false,
      },
      {
        name: "Forecast",
        type: "line" as const,
        data: data.forecast,
        itemStyle: { color: "#2453c7" },
        lineStyle: { type: "dashed" as const },
        showSymbol: data.categories.length < 60,
      },
    ],
  };
  return (
    <div role="img" aria-label={label} className="chart-frame">
      <ReactEChartsCore echarts={echarts} option={option} notMerge lazyUpdate className="chart" style={{ height: undefined }} />
    </div>
  );
}
