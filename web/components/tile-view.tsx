import type { CSSProperties, ReactNode } from "react";

import type { Settled } from "@/lib/api";
import { tileMetrics } from "@/lib/dashboard-view";
import { latestFigure, toChartData } from "@/lib/series";
import type { Metric, QueryResult, QuerySpec, Tile } from "@/lib/types";

import { ErrorNotice, EmptyState } from "./error-notice";
import { KpiCard } from "./kpi-card";
import { ResultTable } from "./result-table";
import { SourceBadges } from "./source-badges";
import { TimeSeriesChart } from "./time-series-chart";

export function TileView({ tile, query, answer, metrics }: { tile: Tile; query: QuerySpec; answer: Settled<QueryResult>; metrics: Map<string, Metric> }) {
  const names = tileMetrics(query);
  const style = { "--w": tile.layout.w } as CSSProperties;
  let body: ReactNode;
  if (!answer.ok) {
    body = <ErrorNotice error={answer.error} />;
  } else if (tile.chart === "kpi") {
    const metric = names[0] ?? "";
    const figure = latestFigure(answer.value, metric);
    return (
      <div className="tile" style={style} data-tile={tile.id}>
        <KpiCard
          title={tile.title}
          testId={`kpi-${tile.id}`}
          value={figure.value}
          previous={figure.previous}
          changePct={figure.changePct}
          period={figure.period}
          previousPeriod={figure.previousPeriod}
          format={metrics.get(metric)?.format}
        />
      </div>
    );
  } else if (answer.value.rows.length === 0) {
    body = <EmptyState>No data in this range.</EmptyState>;
  } else if (tile.chart === "table") {
    body = <ResultTable columns={answer.value.columns} rows={answer.value.rows} caption={tile.title} />;
  } else {
    body = <TimeSeriesChart data={toChartData(answer.value, names)} kind={tile.chart} label={`${tile.title}: ${tile.chart} chart`} />;
  }
  return (
    <section className="tile card stack" style={style} data-tile={tile.id} aria-labelledby={`tile-${tile.id}`}>
      <h2 id={`tile-${tile.id}`}>{tile.title}</h2>
      <p className="small muted">
        {names.join(", ")} by {query.grain}
        {query.group_by && query.group_by.length > 0 ? `, per ${query.group_by.join(", ")}` : ""} · {query.start} to {query.end}
      </p>
      {body}
      {answer.ok ? <SourceBadges result={answer.value} /> : null}
    </section>
  );
}
