"use client";

import { useState, type FormEvent } from "react";

import { callFromBrowser } from "@/lib/request";
import {
  DEFAULT_HORIZON,
  MAX_HORIZON,
  backtestSummary,
  groupLabel,
  horizonProblem,
  type ForecastReply,
  type ForecastRequest,
} from "@/lib/forecast";
import { GRAINS, type Grain, type Metric } from "@/lib/types";

import { ForecastChart } from "./forecast-chart";

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** Forecast a metric: POST /api/v1/forecast on the ML service; each series charted with its backtest. */
export function ForecastPanel({ metrics, initialMetric }: { metrics: Metric[]; initialMetric?: string }) {
  const [metricName, setMetricName] = useState(initialMetric ?? metrics[0]?.name ?? "");
  const [grain, setGrain] = useState<Grain>("month");
  const [horizon, setHorizon] = useState(String(DEFAULT_HORIZON.month));
  const [groupBy, setGroupBy] = useState("");
  const [coverage, setCoverage] = useState("0.95");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [reply, setReply] = useState<ForecastReply | null>(null);
  const metric = metrics.find((item) => item.name === metricName);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const steps = Number(horizon);
    const bad = horizonProblem(grain, steps);
    if (!metric) {
      setProblem("Choose a metric.");
      return;
    }
    if (bad) {
      setProblem(bad);
      return;
    }
    const body: ForecastRequest = { metric: metric.name, grain, horizon: steps, interval: Number(coverage) };
    if (groupBy) body.group_by = [groupBy];
    setBusy(true);
    setProblem(null);
    const result = await callFromBrowser<ForecastReply>("ml", "forecast", { method: "POST", json: body });
    setBusy(false);
    if (result.ok) setReply(result.value);
    else {
      setReply(null);
      setProblem(result.message);
    }
  }

  if (metrics.length === 0) return <p className="empty">No metrics are defined yet; a forecast needs one.</p>;

  return (
    <div className="stack">
      <form className="card stack" onSubmit={submit} noValidate aria-label="Forecast a metric">
        <div className="form-grid">
          <label className="field">
            <span>Metric</span>
            <select
              name="metric"
              value={metricName}
              onChange={(event) => {
                setMetricName(event.target.value);
                setGroupBy("");
              }}
            >
              {metrics.map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Grain</span>
            <select
              name="grain"
              value={grain}
              onChange={(event) => {
                const next = event.target.value as Grain;
                setGrain(next);
                setHorizon(String(DEFAULT_HORIZON[next]));
              }}
            >
              {GRAINS.map((item) => (
                <option key={item} value={item}>
                  {item}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{`Horizon (1–${MAX_HORIZON[grain]} ${grain}s)`}</span>
            <input name="horizon" type="number" min={1} max={MAX_HORIZON[grain]} value={horizon} onChange={(event) => setHorizon(event.target.value)} />
          </label>
          <label className="field">
            <span>One series per</span>
            <select name="group_by" value={groupBy} onChange={(event) => setGroupBy(event.target.value)}>
              <option value="">(all together)</option>
              {(metric?.dimensions ?? []).map((dimension) => (
                <option key={dimension} value={dimension}>
                  {dimension}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Interval</span>
            <select name="interval" value={coverage} onChange={(event) => setCoverage(event.target.value)}>
              <option value="0.8">80%</option>
              <option value="0.9">90%</option>
              <option value="0.95">95%</option>
              <option value="0.99">99%</option>
            </select>
          </label>
        </div>
        {metric?.description ? <p className="small muted">{metric.description}</p> : null}
        <div className="row">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? "Forecasting…" : "Forecast"}
          </button>
        </div>
      </form>
      {problem ? (
        <p className="notice notice-error" role="alert" data-testid="forecast-error">
          {problem}
        </p>
      ) : null}
      {reply ? <ForecastResult reply={reply} /> : null}
    </div>
  );
}

function ForecastResult({ reply }: { reply: ForecastReply }) {
  const interval = reply.interval ?? 0.95;
  return (
    <section className="stack" aria-label={`Forecast of ${reply.metric}`} data-testid="forecast-result">
      <p className="small muted">
        {reply.metric} by {reply.grain}; history up to {reply.history_end}
        {reply.cached ? " (from the cache)" : ""}.
        {reply.omitted_groups > 0 ? ` ${reply.omitted_groups} smaller groups were left out.` : ""}
      </p>
      {reply.suppressed ? <p className="notice notice-warn small">Some small cells are hidden.</p> : null}
      {reply.series.map((series) => {
        const title = groupLabel(series.group);
        return (
          <article key={title} className="card stack">
            <div className="spread">
              <h3>{title}</h3>
              <span className="small muted">{series.method}</span>
            </div>
            <ForecastChart series={series} interval={interval} label={`${reply.metric} ${title}: history and forecast with a ${Math.round(interval * 100)}% interval`} />
            <p className={series.backtest.beats_naive ? "notice notice-info small" : "notice notice-warn small"} data-testid="backtest">
              {backtestSummary(series.backtest)}
            </p>
            <div className="table-wrap" tabIndex={0} role="region" aria-label={`Backtest of ${title}`}>
              <table>
                <caption className="sr-only">Backtest against the naive forecasts</caption>
                <thead>
                  <tr>
                    <th scope="col">Forecast</th>
                    <th scope="col" className="num">
                      MAE over {series.backtest.periods} periods
                    </th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">Model ({series.method})</th>
                    <td className="num">{series.backtest.mae === null ? "—" : number.format(series.backtest.mae)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Naive (last value)</th>
                    <td className="num">{series.backtest.naive_mae === null ? "—" : number.format(series.backtest.naive_mae)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Seasonal naive</th>
                    <td className="num">{series.backtest.seasonal_naive_mae === null ? "—" : number.format(series.backtest.seasonal_naive_mae)}</td>
                  </tr>
                </tbody>
              </table>
            </div>
            <details>
              <summary>Forecast values</summary>
              <div className="table-wrap" tabIndex={0} role="region" aria-label={`Forecast values of ${title}`}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Period</th>
                      <th scope="col" className="num">
                        Forecast
                      </th>
                      <th scope="col" className="num">
                        Lower
                      </th>
                      <th scope="col" className="num">
                        Upper
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {series.forecast.map((point) => (
                      <tr key={point.period}>
                        <td>{point.period}</td>
                        <td className="num">{point.value === null ? "—" : number.format(point.value)}</td>
                        <td className="num">{point.lower === null ? "—" : number.format(point.lower)}</td>
                        <td className="num">{point.upper === null ? "—" : number.format(point.upper)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          </article>
        );
      })}
      {reply.skipped.length > 0 ? (
        <div className="notice notice-warn small">
          <strong>Not forecast:</strong>
          <ul>
            {reply.skipped.map((item) => (
              <li key={groupLabel(item.group)}>
                {groupLabel(item.group)}: {item.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
