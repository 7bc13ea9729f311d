import type { Metadata } from "next";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { ResultTable } from "@/components/result-table";
import { SourceBadges } from "@/components/source-badges";
import { TimeSeriesChart, type SeriesKind } from "@/components/time-series-chart";
import { api, requirePermission, settle } from "@/lib/api";
import { FILTER_ROWS, exploreQuery, readExplore, type SearchParams } from "@/lib/explore-params";
import { toChartData } from "@/lib/series";
import { today } from "@/lib/today";
import { FILTER_OPS, GRAINS, type Metric, type Page, type QueryResult } from "@/lib/types";

export const metadata: Metadata = { title: "Explore" };

const OP_LABELS: Record<string, string> = {
  eq: "is",
  ne: "is not",
  in: "is one of",
  not_in: "is none of",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
  contains: "contains",
};

export default async function ExplorePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  await requirePermission("queries:run");
  const params = await searchParams;
  const { state, spec, problems } = readExplore(params, today());
  const chartParam = typeof params.chart === "string" ? params.chart : "line";
  const chart: SeriesKind = chartParam === "bar" || chartParam === "area" ? chartParam : "line";
  const [metricList, answer] = await Promise.all([
    settle(api<Page<Metric>>("analytics", "/api/v1/metrics", { query: { limit: 500 } })),
    spec === null ? Promise.resolve(null) : settle(api<QueryResult>("analytics", "/api/v1/query", { method: "POST", json: spec })),
  ]);
  if (!metricList.ok) {
    return (
      <div className="stack">
        <h1>Explore</h1>
        <ErrorNotice error={metricList.error} title="The metrics could not be listed" />
      </div>
    );
  }
  const metrics = metricList.value.items;
  const chosen = metrics.filter((metric) => state.metrics.includes(metric.name));
  const dimensions = [...new Set((chosen.length ? chosen : metrics).flatMap((metric) => metric.dimensions))].sort();
  const query = exploreQuery(state);
  return (
    <div className="stack">
      <h1>Explore</h1>
      {metrics.length === 0 ? <EmptyState>No metrics are defined yet. Define one on a dataset first.</EmptyState> : null}
      <form method="get" className="card stack" aria-label="Query">
        <fieldset>
          <legend className="legend">Metrics</legend>
          <div className="checks">
            {metrics.map((metric) => (
              <label key={metric.name} title={metric.description}>
                <input type="checkbox" name="metric" value={metric.name} defaultChecked={state.metrics.includes(metric.name)} />
                {metric.name} <span className="muted small">({metric.dataset})</span>
              </label>
            ))}
          </div>
        </fieldset>
        <div className="row">
          <label className="field">
            <span>Grain</span>
            <select name="grain" defaultValue={state.grain}>
              {GRAINS.map((grain) => (
                <option key={grain} value={grain}>
                  {grain}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>From</span>
            <input type="date" name="start" defaultValue={state.start} required />
          </label>
          <label className="field">
            <span>To (not included)</span>
            <input type="date" name="end" defaultValue={state.end} required />
          </label>
          <label className="field">
            <span>Chart</span>
            <select name="chart" defaultValue={chart}>
              <option value="line">Line</option>
              <option value="bar">Bar</option>
              <option value="area">Area</option>
            </select>
          </label>
          <label className="checks" style={{ alignSelf: "center" }}>
            <input type="checkbox" name="compare" value="1" defaultChecked={state.compare} /> Compare with the previous period
          </label>
        </div>
        <fieldset>
          <legend className="legend">Group by</legend>
          <div className="checks">
            {dimensions.map((dimension) => (
              <label key={dimension}>
                <input type="checkbox" name="group_by" value={dimension} defaultChecked={state.groupBy.includes(dimension)} />
                {dimension}
              </label>
            ))}
          </div>
        </fieldset>
        <fieldset className="stack">
          <legend className="legend">Filters</legend>
          {Array.from({ length: FILTER_ROWS }, (_, index) => {
            const filter = state.filters[index];
            return (
              <div className="row" key={index} role="group" aria-label={`Filter ${index + 1}`}>
                <label className="field">
                  <span>Dimension</span>
                  <select name={`f${index}_dim`} defaultValue={filter?.dimension ?? ""}>
                    <option value="">(none)</option>
                    {dimensions.map((dimension) => (
                      <option key={dimension} value={dimension}>
                        {dimension}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="field">
                  <span>Condition</span>
                  <select name={`f${index}_op`} defaultValue={filter?.op ?? "eq"}>
                    {FILTER_OPS.map((op) => (
                      <option key={op} value={op}>
                        {OP_LABELS[op]}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="field" style={{ flex: "1 1 160px" }}>
                  <span>Value (comma-separated for a list)</span>
                  <input name={`f${index}_val`} defaultValue={filter?.value ?? ""} />
                </label>
              </div>
            );
          })}
        </fieldset>
        <div>
          <button type="submit" className="button button-primary">
            Run query
          </button>
        </div>
      </form>
      {problems.length > 0 ? (
        <div role="alert" className="notice notice-error">
          {problems.join(" ")}
        </div>
      ) : null}
      {answer === null ? (
        problems.length === 0 ? <EmptyState>Pick one or more metrics and run the query.</EmptyState> : null
      ) : !answer.ok ? (
        <ErrorNotice error={answer.error} title="The query failed" />
      ) : (
        <section className="stack" aria-labelledby="result-heading">
          <div className="spread">
            <h2 id="result-heading">Result</h2>
            <a className="button" href={`/explore/download?${query}`} download>
              Download CSV
            </a>
          </div>
          <SourceBadges result={answer.value} />
          {answer.value.rows.length === 0 ? (
            <EmptyState>No data in this range.</EmptyState>
          ) : (
            <>
              <div className="card">
                <TimeSeriesChart data={toChartData(answer.value, state.metrics)} kind={chart} label={`${state.metrics.join(", ")} by ${state.grain}`} />
              </div>
              <ResultTable columns={answer.value.columns} rows={answer.value.rows} caption="Query result" />
            </>
          )}
        </section>
      )}
    </div>
  );
}
