/** Shapes of the Analytics API's replies that the pages read. */

export interface Me {
  id: string;
  username: string;
  roles: string[];
  permissions: string[];
  hipaa_mode: boolean;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export type Grain = "day" | "week" | "month" | "quarter" | "year";
export const GRAINS: Grain[] = ["day", "week", "month", "quarter", "year"];

export type FilterOp = "eq" | "ne" | "in" | "not_in" | "gt" | "gte" | "lt" | "lte" | "contains";
export const FILTER_OPS: FilterOp[] = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains"];

export type Scalar = string | number | boolean;

export interface QueryFilter {
  dimension: string;
  op: FilterOp;
  value: Scalar | Scalar[];
}

export interface QuerySpec {
  metric?: string;
  metrics?: string[];
  grain: Grain;
  start: string;
  end: string;
  group_by?: string[];
  filters?: QueryFilter[];
  order_by?: { field: string; direction: "asc" | "desc" }[];
  limit?: number;
  compare?: "previous_period" | null;
}

export type Cell = string | number | boolean | null;

export interface QueryResult {
  columns: string[];
  rows: Cell[][];
  source: "rollup" | "table";
  dataset: string;
  data_version: number;
  cached: boolean;
  /** More rows matched than `limit`: `rows` holds the first `limit` of them. */
  truncated: boolean;
  limit: number;
  suppressed_cells?: [number, number][];
}

export interface Metric {
  id: string;
  name: string;
  dataset: string;
  aggregation: string;
  column: string | null;
  time_column: string;
  dimensions: string[];
  filters: QueryFilter[];
  description: string;
  format: string;
}

export interface Kpi {
  metric: string;
  dataset: string;
  description: string;
  format: string;
  aggregation: string;
  grain: Grain;
  period_start: string;
  value: number | null;
  previous_value: number | null;
  change_pct: number | null;
  stale: boolean;
  suppressed?: boolean;
  computed_at: string;
}

export type ChartKind = "line" | "bar" | "area" | "table" | "kpi";
export const CHART_KINDS: ChartKind[] = ["kpi", "line", "bar", "area", "table"];

export interface TileLayout {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Tile {
  id: string;
  title: string;
  chart: ChartKind;
  query: QuerySpec;
  layout: TileLayout;
}

export interface Dashboard {
  id: string;
  name: string;
  description: string;
  tiles: Tile[];
  owner: { id: string; username: string } | null;
  shared_with_roles: string[];
  created_at: string;
  updated_at: string;
}

/** A tile as a client writes it: without an id the API gives it one. */
export type TileInput = Omit<Tile, "id"> & { id?: string };

export interface DashboardContent {
  name: string;
  description: string;
  tiles: TileInput[];
  shared_with_roles: string[];
}

export interface HealthCheck {
  status: string;
  latency_ms?: number;
  error?: string;
}

export interface Health {
  status: string;
  service: string;
  checks: Record<string, HealthCheck>;
}
