import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { AutoRefresh } from "@/components/auto-refresh";
import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { TileView } from "@/components/tile-view";
import { api, apiGetOnce, can, requirePermission, settle } from "@/lib/api";
import { REFRESH_CHOICES, orderedTiles, readViewOptions, tileQuery } from "@/lib/dashboard-view";
import { RANGE_PRESETS, resolveRange } from "@/lib/date-range";
import type { SearchParams } from "@/lib/explore-params";
import { isMissing } from "@/lib/problem";
import { subjectPath } from "@/lib/subject";
import { today } from "@/lib/today";
import { GRAINS, type Dashboard, type Metric, type Page, type QueryResult } from "@/lib/types";

import { DeleteDashboardButton } from "./delete-button";

export const metadata: Metadata = { title: "Dashboard" };

type Props = { params: Promise<{ id: string }>; searchParams: Promise<SearchParams> };

export default async function DashboardPage({ params, searchParams }: Props) {
  const user = await requirePermission("dashboards:read");
  const { id } = await params;
  const options = readViewOptions(await searchParams);
  const loaded = await settle(apiGetOnce<Dashboard>("analytics", subjectPath("/api/v1/dashboards/", id)));
  if (!loaded.ok) {
    if (isMissing(loaded.error)) notFound();
    return <ErrorNotice error={loaded.error} title="The dashboard could not be loaded" />;
  }
  const dashboard = loaded.value;
  const day = today();
  const tiles = orderedTiles(dashboard.tiles);
  const metricList = await settle(api<Page<Metric>>("analytics", "/api/v1/metrics", { query: { limit: 500 } }));
  const metrics = new Map((metricList.ok ? metricList.value.items : []).map((metric) => [metric.name, metric]));
  const queries = tiles.map((tile) => tileQuery(tile, options, day));
  const answers = await Promise.all(
    queries.map((query) => settle(api<QueryResult>("analytics", "/api/v1/query", { method: "POST", json: query }))),
  );
  const editable = can(user, "dashboards:write") && (dashboard.owner?.id === user.id || can(user, "users:manage"));
  return (
    <div className="stack">
      <div className="spread">
        <div>
          <h1>{dashboard.name}</h1>
          {dashboard.description ? <p className="muted">{dashboard.description}</p> : null}
        </div>
        {editable ? (
          <div className="row">
            <Link href={`/dashboards/${dashboard.id}/edit`} className="button">
              Edit
            </Link>
            <DeleteDashboardButton id={dashboard.id} name={dashboard.name} />
          </div>
        ) : null}
      </div>
      <div className="card row" role="group" aria-label="Dashboard controls">
        <form method="get" className="row">
          <label className="field">
            <span>Grain</span>
            <select name="grain" defaultValue={options.grain ?? ""}>
              <option value="">As saved</option>
              {GRAINS.map((grain) => (
                <option key={grain} value={grain}>
                  {grain}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Date range</span>
            <select name="range" defaultValue={options.preset}>
              {RANGE_PRESETS.map((preset) => (
                <option key={preset.value} value={preset.value}>
                  {preset.label}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>From (custom)</span>
            <input type="date" name="start" defaultValue={options.start} />
          </label>
          <label className="field">
            <span>To, not included (custom)</span>
            <input type="date" name="end" defaultValue={options.end} />
          </label>
          {options.refreshSeconds ? <input type="hidden" name="refresh" value={options.refreshSeconds} /> : null}
          <button type="submit" className="button button-primary">
            Apply
          </button>
        </form>
        <AutoRefresh seconds={options.refreshSeconds} choices={REFRESH_CHOICES} renderedAt={`${new Date().toISOString().slice(11, 19)} UTC`} />
      </div>
      {options.preset === "custom" && resolveRange("custom", day, options.start, options.end) === null ? (
        <p className="notice notice-warn">Give a custom range as two dates, the first before the second; showing the saved ranges.</p>
      ) : null}
      {tiles.length === 0 ? (
        <EmptyState>This dashboard has no tiles yet{editable ? "; edit it to add some" : ""}.</EmptyState>
      ) : (
        <div className="tile-grid">
          {tiles.map((tile, index) => (
            <TileView key={tile.id} tile={tile} query={queries[index]!} answer={answers[index]!} metrics={metrics} />
          ))}
        </div>
      )}
    </div>
  );
}
