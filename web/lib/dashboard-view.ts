/** A dashboard as shown: each tile's query with the page's grain and range applied. */

import { isPreset, resolveRange, type RangePreset } from "./date-range";
import type { SearchParams } from "./explore-params";
import { GRAINS, type Grain, type QuerySpec, type Tile } from "./types";

export interface ViewOptions {
  grain: Grain | null;
  preset: RangePreset;
  start: string;
  end: string;
  refreshSeconds: number;
}

export const REFRESH_CHOICES = [0, 30, 60, 300];

function first(params: SearchParams, key: string): string | undefined {
  const value = params[key];
  return Array.isArray(value) ? value[0] : value;
}

export function readViewOptions(params: SearchParams): ViewOptions {
  const grain = first(params, "grain");
  const preset = first(params, "range");
  const refresh = Number(first(params, "refresh") ?? 0);
  return {
    grain: GRAINS.includes(grain as Grain) ? (grain as Grain) : null,
    preset: isPreset(preset) ? preset : "saved",
    start: first(params, "start") ?? "",
    end: first(params, "end") ?? "",
    refreshSeconds: REFRESH_CHOICES.includes(refresh) ? refresh : 0,
  };
}

/** The query a tile runs: its own, with the page's grain and range. A KPI tile is one series (no groups):
 * its card shows the latest period against the one before it. */
export function tileQuery(tile: Tile, options: ViewOptions, today: string): QuerySpec {
  const range = resolveRange(options.preset, today, options.start, options.end);
  const query: QuerySpec = { ...tile.query };
  if (options.grain !== null) query.grain = options.grain;
  if (range !== null) {
    query.start = range.start;
    query.end = range.end;
  }
  if (tile.chart === "kpi") {
    query.group_by = [];
    delete query.compare;
  }
  return query;
}

export function tileMetrics(query: QuerySpec): string[] {
  return query.metrics ?? (query.metric ? [query.metric] : []);
}

/** Tiles in reading order: by row, then column. */
export function orderedTiles(tiles: Tile[]): Tile[] {
  return [...tiles].sort((a, b) => a.layout.y - b.layout.y || a.layout.x - b.layout.x);
}
