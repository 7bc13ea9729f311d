"use client";

import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";

import { callFromBrowser } from "@/lib/request";
import {
  TILE_WIDTHS,
  draftProblems,
  draftToContent,
  newTile,
  type DashboardDraft,
  type TileDraft,
} from "@/lib/dashboard-draft";
import { CHART_KINDS, GRAINS, type ChartKind, type Dashboard, type Grain, type Metric } from "@/lib/types";

interface Props {
  dashboardId: string | null;
  initial: DashboardDraft;
  metrics: Metric[];
  roles: string[];
  today: string;
}

const CHART_LABELS: Record<ChartKind, string> = { kpi: "KPI card", line: "Line", bar: "Bar", area: "Area", table: "Table" };

function toggle(list: string[], item: string, on: boolean): string[] {
  return on ? [...new Set([...list, item])] : list.filter((entry) => entry !== item);
}

export function DashboardEditor({ dashboardId, initial, metrics, roles, today }: Props) {
  const router = useRouter();
  const [draft, setDraft] = useState<DashboardDraft>(initial);
  const [problems, setProblems] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);
  const byName = useMemo(() => new Map(metrics.map((metric) => [metric.name, metric])), [metrics]);

  function updateTile(key: string, change: Partial<TileDraft>) {
    setDraft((current) => ({
      ...current,
      tiles: current.tiles.map((tile) => (tile.key === key ? { ...tile, ...change } : tile)),
    }));
  }

  function moveTile(index: number, by: number) {
    setDraft((current) => {
      const tiles = [...current.tiles];
      const target = index + by;
      if (target < 0 || target >= tiles.length) return current;
      [tiles[index], tiles[target]] = [tiles[target]!, tiles[index]!];
      return { ...current, tiles };
    });
  }

  function dimensionsOf(tile: TileDraft): string[] {
    const chosen = tile.metrics.map((name) => byName.get(name)).filter((metric): metric is Metric => metric !== undefined);
    if (chosen.length === 0) return [];
    return chosen.slice(1).reduce((common, metric) => common.filter((d) => metric.dimensions.includes(d)), chosen[0]!.dimensions);
  }

  async function save() {
    const found = draftProblems(draft);
    setProblems(found);
    if (found.length > 0) return;
    setSaving(true);
    const content = draftToContent(draft);
    const result = dashboardId
      ? await callFromBrowser<Dashboard>("analytics", `dashboards/${dashboardId}`, { method: "PUT", json: content })
      : await callFromBrowser<Dashboard>("analytics", "dashboards", { method: "POST", json: content });
    setSaving(false);
    if (!result.ok) {
      setProblems([result.message]);
      return;
    }
    router.push(`/dashboards/${result.value.id}`);
    router.refresh();
  }

  return (
    <form
      className="stack"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        void save();
      }}
    >
      <div className="card stack">
        <label className="field">
          <span>Name</span>
          <input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} required maxLength={200} />
        </label>
        <label className="field">
          <span>Description</span>
          <textarea value={draft.description} rows={2} onChange={(e) => setDraft({ ...draft, description: e.target.value })} />
        </label>
        <fieldset>
          <legend className="legend">Shared with roles</legend>
          <div className="checks">
            {roles.map((role) => (
              <label key={role}>
                <input
                  type="checkbox"
                  checked={draft.sharedWithRoles.includes(role)}
                  onChange={(e) => setDraft({ ...draft, sharedWithRoles: toggle(draft.sharedWithRoles, role, e.target.checked) })}
                />
                {role}
              </label>
            ))}
          </div>
        </fieldset>
      </div>

      <h2>Tiles</h2>
      {draft.tiles.length === 0 ? <p className="empty">No tiles yet. Add one below.</p> : null}
      {draft.tiles.map((tile, index) => {
        const dimensions = dimensionsOf(tile);
        const label = `Tile ${index + 1}`;
        return (
          <fieldset key={tile.key} className="card stack" aria-label={label}>
            <legend className="legend">{label}</legend>
            <div className="row">
              <label className="field" style={{ flex: "2 1 200px" }}>
                <span>Title</span>
                <input value={tile.title} onChange={(e) => updateTile(tile.key, { title: e.target.value })} required />
              </label>
              <label className="field">
                <span>Chart</span>
                <select value={tile.chart} onChange={(e) => updateTile(tile.key, { chart: e.target.value as ChartKind })}>
                  {CHART_KINDS.map((kind) => (
                    <option key={kind} value={kind}>
                      {CHART_LABELS[kind]}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                <span>Grain</span>
                <select value={tile.grain} onChange={(e) => updateTile(tile.key, { grain: e.target.value as Grain })}>
                  {GRAINS.map((grain) => (
                    <option key={grain} value={grain}>
                      {grain}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                <span>From</span>
                <input type="date" value={tile.start} onChange={(e) => updateTile(tile.key, { start: e.target.value })} required />
              </label>
              <label className="field">
                <span>To (not included)</span>
                <input type="date" value={tile.end} onChange={(e) => updateTile(tile.key, { end: e.target.value })} required />
              </label>
              <label className="field">
                <span>Width</span>
                <select value={tile.width} onChange={(e) => updateTile(tile.key, { width: Number(e.target.value) })}>
                  {TILE_WIDTHS.map((width) => (
                    <option key={width} value={width}>
                      {width === 12 ? "Full" : `${width}/12`}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <fieldset>
              <legend className="legend">Metrics</legend>
              <div className="checks">
                {metrics.map((metric) => (
                  <label key={metric.name}>
                    <input
                      type="checkbox"
                      checked={tile.metrics.includes(metric.name)}
                      onChange={(e) => updateTile(tile.key, { metrics: toggle(tile.metrics, metric.name, e.target.checked) })}
                    />
                    {metric.name}
                  </label>
                ))}
              </div>
            </fieldset>
            {tile.chart !== "kpi" ? (
              <fieldset>
                <legend className="legend">Group by</legend>
                {dimensions.length === 0 ? (
                  <p className="empty small">Pick metrics to see their dimensions.</p>
                ) : (
                  <div className="checks">
                    {dimensions.map((dimension) => (
                      <label key={dimension}>
                        <input
                          type="checkbox"
                          checked={tile.groupBy.includes(dimension)}
                          onChange={(e) => updateTile(tile.key, { groupBy: toggle(tile.groupBy, dimension, e.target.checked) })}
                        />
                        {dimension}
                      </label>
                    ))}
                  </div>
                )}
              </fieldset>
            ) : null}
            <div className="row">
              <button type="button" className="button button-small" onClick={() => moveTile(index, -1)} disabled={index === 0}>
                Move up
              </button>
              <button
                type="button"
                className="button button-small"
                onClick={() => moveTile(index, 1)}
                disabled={index === draft.tiles.length - 1}
              >
                Move down
              </button>
              <button
                type="button"
                className="button button-small button-danger"
                onClick={() => setDraft({ ...draft, tiles: draft.tiles.filter((t) => t.key !== tile.key) })}
              >
                Remove tile
              </button>
            </div>
          </fieldset>
        );
      })}
      <div>
        <button type="button" className="button" onClick={() => setDraft({ ...draft, tiles: [...draft.tiles, newTile(metrics[0], today)] })}>
          Add tile
        </button>
      </div>
      {problems.length > 0 ? (
        <div role="alert" className="notice notice-error">
          {problems.length === 1 ? (
            problems[0]
          ) : (
            <ul>
              {problems.map((problem) => (
                <li key={problem}>{problem}</li>
              ))}
            </ul>
          )}
        </div>
      ) : null}
      <div className="row">
        <button type="submit" className="button button-primary" disabled={saving}>
          {saving ? "Saving…" : "Save dashboard"}
        </button>
        <button type="button" className="button" onClick={() => router.back()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
