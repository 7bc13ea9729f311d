/** A dashboard being edited: tiles as form fields, and back to the API's content with a packed layout. */

import type { ChartKind, Dashboard, DashboardContent, Grain, Metric, QuerySpec, Tile, TileInput } from "./types";

export const TILE_WIDTHS = [3, 4, 6, 8, 12];

export interface TileDraft {
  key: string;
  id: string | null;
  title: string;
  chart: ChartKind;
  metrics: string[];
  grain: Grain;
  start: string;
  end: string;
  groupBy: string[];
  width: number;
  /** Fields of the saved query the form does not edit (filters, order, limit), kept as they were. */
  rest: Partial<QuerySpec>;
}

export interface DashboardDraft {
  name: string;
  description: string;
  sharedWithRoles: string[];
  tiles: TileDraft[];
}

let counter = 0;
export function draftKey(): string {
  counter += 1;
  return `draft-${counter}`;
}

export function tileToDraft(tile: Tile): TileDraft {
  const { metric, metrics, grain, start, end, group_by, ...rest } = tile.query;
  return {
    key: tile.id,
    id: tile.id,
    title: tile.title,
    chart: tile.chart,
    metrics: metrics ?? (metric ? [metric] : []),
    grain: grain ?? "day",
    start,
    end,
    groupBy: group_by ?? [],
    width: tile.layout.w,
    rest: { ...rest, compare: undefined },
  };
}

export function dashboardToDraft(dashboard: Dashboard | null): DashboardDraft {
  if (dashboard === null) return { name: "", description: "", sharedWithRoles: [], tiles: [] };
  const ordered = [...dashboard.tiles].sort((a, b) => a.layout.y - b.layout.y || a.layout.x - b.layout.x);
  return {
    name: dashboard.name,
    description: dashboard.description,
    sharedWithRoles: dashboard.shared_with_roles,
    tiles: ordered.map(tileToDraft),
  };
}

export function newTile(metric: Metric | undefined, today: string): TileDraft {
  return {
    key: draftKey(),
    id: null,
    title: metric?.description || metric?.name || "New tile",
    chart: "line",
    metrics: metric ? [metric.name] : [],
    grain: "month",
    start: `${Number(today.slice(0, 4)) - 2}-01-01`,
    end: `${Number(today.slice(0, 4)) + 1}-01-01`,
    groupBy: [],
    width: 6,
    rest: {},
  };
}

export function tileHeight(chart: ChartKind): number {
  return chart === "kpi" ? 2 : 4;
}

/** Tiles placed left to right in rows of 12 columns, in the order given. */
export function packLayout(drafts: Pick<TileDraft, "width" | "chart">[]): { x: number; y: number; w: number; h: number }[] {
  const placed: { x: number; y: number; w: number; h: number }[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const draft of drafts) {
    const w = Math.min(12, Math.max(1, draft.width));
    const h = tileHeight(draft.chart);
    if (x + w > 12) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
    }
    placed.push({ x, y, w, h });
    x += w;
    rowHeight = Math.max(rowHeight, h);
  }
  return placed;
}

export function draftToContent(draft: DashboardDraft): Required<DashboardContent> {
  const layouts = packLayout(draft.tiles);
  return {
    name: draft.name.trim(),
    description: draft.description,
    shared_with_roles: draft.sharedWithRoles,
    tiles: draft.tiles.map((tile, index): TileInput => {
      const query: QuerySpec = {
        ...Object.fromEntries(Object.entries(tile.rest).filter(([, value]) => value !== undefined)),
        ...(tile.metrics.length === 1 ? { metric: tile.metrics[0] } : { metrics: tile.metrics }),
        grain: tile.grain,
        start: tile.start,
        end: tile.end,
        group_by: tile.chart === "kpi" ? [] : tile.groupBy,
      };
      const content: TileInput = { title: tile.title.trim(), chart: tile.chart, query, layout: layouts[index]! };
      return tile.id === null ? content : { ...content, id: tile.id };
    }),
  };
}

/** Problems the form can name before sending; the API checks the rest. */
export function draftProblems(draft: DashboardDraft): string[] {
  const problems: string[] = [];
  if (!draft.name.trim()) problems.push("Give the dashboard a name.");
  draft.tiles.forEach((tile, index) => {
    const label = `Tile ${index + 1}${tile.title.trim() ? ` (${tile.title.trim()})` : ""}`;
    if (!tile.title.trim()) problems.push(`${label}: give it a title.`);
    if (tile.metrics.length === 0) problems.push(`${label}: pick at least one metric.`);
    if (tile.chart === "kpi" && tile.metrics.length > 1) problems.push(`${label}: a KPI tile shows one metric.`);
    if (!(tile.start < tile.end)) problems.push(`${label}: the end date must be after the start date.`);
  });
  return problems;
}
