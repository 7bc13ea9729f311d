/** The Explore page's question, read from and written to its URL, so a query can be bookmarked and shared. */

import { isIsoDate, rangeProblem } from "./date-range";
import { FILTER_OPS, GRAINS, type FilterOp, type Grain, type QueryFilter, type QuerySpec, type Scalar } from "./types";

export type SearchParams = Record<string, string | string[] | undefined>;

export const FILTER_ROWS = 3;

export interface FilterDraft {
  dimension: string;
  op: FilterOp;
  value: string;
}

export interface ExploreState {
  metrics: string[];
  grain: Grain;
  start: string;
  end: string;
  groupBy: string[];
  filters: FilterDraft[];
  compare: boolean;
}

export interface ExploreRequest {
  state: ExploreState;
  spec: QuerySpec | null;
  problems: string[];
}

function all(params: SearchParams, key: string): string[] {
  const value = params[key];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((item) => item.trim()).filter(Boolean);
}

function one(params: SearchParams, key: string): string | undefined {
  return all(params, key)[0];
}

/** Text typed in a filter as the value the API should compare: booleans and numbers keep their type. */
export function parseScalar(text: string): Scalar {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (/^-?\d+(\.\d+)?$/.test(trimmed) && trimmed.length < 16) return Number(trimmed);
  return trimmed;
}

export function filterValue(op: FilterOp, text: string): Scalar | Scalar[] {
  if (op === "in" || op === "not_in") {
    return text.split(",").map((part) => part.trim()).filter(Boolean).map(parseScalar);
  }
  if (op === "contains") return text.trim();
  return parseScalar(text);
}

export function defaultRange(today: string): { start: string; end: string } {
  const end = new Date(`${today}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1);
  return { start: `${Number(today.slice(0, 4)) - 2}-01-01`, end: end.toISOString().slice(0, 10) };
}

export function readExplore(params: SearchParams, today: string): ExploreRequest {
  const problems: string[] = [];
  const fallback = defaultRange(today);
  const grainText = one(params, "grain");
  const grain: Grain = GRAINS.includes(grainText as Grain) ? (grainText as Grain) : "month";
  const start = one(params, "start") ?? fallback.start;
  const end = one(params, "end") ?? fallback.end;
  const filters: FilterDraft[] = [];
  for (let index = 0; index < FILTER_ROWS; index += 1) {
    const dimension = one(params, `f${index}_dim`) ?? "";
    const opText = one(params, `f${index}_op`) ?? "eq";
    const op: FilterOp = FILTER_OPS.includes(opText as FilterOp) ? (opText as FilterOp) : "eq";
    const value = one(params, `f${index}_val`) ?? "";
    filters.push({ dimension, op, value });
  }
  const state: ExploreState = {
    metrics: [...new Set(all(params, "metric"))],
    grain,
    start,
    end,
    groupBy: [...new Set(all(params, "group_by"))],
    filters,
    compare: one(params, "compare") === "1",
  };
  if (state.metrics.length === 0) return { state, spec: null, problems };
  const range = rangeProblem(start, end);
  if (range !== null) problems.push(range);
  const chosen: QueryFilter[] = [];
  for (const draft of filters) {
    if (!draft.dimension) continue;
    if (draft.value.trim() === "") {
      problems.push(`Give a value for the filter on ${draft.dimension}.`);
      continue;
    }
    chosen.push({ dimension: draft.dimension, op: draft.op, value: filterValue(draft.op, draft.value) });
  }
  if (problems.length > 0) return { state, spec: null, problems };
  const spec: QuerySpec = {
    metrics: state.metrics,
    grain,
    start,
    end,
    group_by: state.groupBy,
    filters: chosen,
    ...(state.compare ? { compare: "previous_period" as const } : {}),
  };
  return { state, spec, problems };
}

/** The URL query string of a state (the inverse of readExplore). */
export function exploreQuery(state: ExploreState): string {
  const params = new URLSearchParams();
  for (const metric of state.metrics) params.append("metric", metric);
  params.set("grain", state.grain);
  if (isIsoDate(state.start)) params.set("start", state.start);
  if (isIsoDate(state.end)) params.set("end", state.end);
  for (const dimension of state.groupBy) params.append("group_by", dimension);
  state.filters.forEach((filter, index) => {
    if (!filter.dimension) return;
    params.set(`f${index}_dim`, filter.dimension);
    params.set(`f${index}_op`, filter.op);
    params.set(`f${index}_val`, filter.value);
  });
  if (state.compare) params.set("compare", "1");
  return params.toString();
}
