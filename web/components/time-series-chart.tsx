"use client";

import { BarChart, LineChart } from "echarts/charts";
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import ReactEChartsCore from "echarts-for-react/lib/core";

import type { ChartData } from "@/lib/series";

// Only the parts used here are bundled, not all of ECharts.
echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

export type SeriesKind = "line" | "bar" | "area";

export function TimeSeriesChart({ data, kind, label }: { data: ChartData; kind: SeriesKind; label: string }) {
  const option = {
    animation: false,
    tooltip: { trigger: "axis" as const },
    legend: { type: "scroll" as const, top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category" as const, data: data.categories, boundaryGap: kind === "bar" },
    yAxis: { type: "value" as const },
    series: data.series.map((series) => ({
      name: series.name,
      type: kind === "bar" ? ("bar" as const) : ("line" as const),
      data: series.data,
      showSymbol: data.categories.length < 40,
      connectNulls: false,
      // Not stacked: averages and rates do not add up.
      ...(kind === "area" ? { areaStyle: { opacity: 0.2 } } : {}),
    })),
  };
  return (
    <div role="img" aria-label={label} className="chart-frame">
      <ReactEChartsCore echarts={echarts} option={option} notMerge lazyUpdate className="chart" style={{ height: undefined }} />
    </div>
  );
}
