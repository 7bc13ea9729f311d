/** Shapes of the Analytics API's replies that the pages read: the generated ones (lib/api/, `make api-types`) by
 * the names the pages use, and the few the API does not describe yet. */

import type { components } from "./api/analytics";

type Schemas = components["schemas"];

export type Me = Schemas["Me"];

/** A list reply, `{"items", "total"}`, of any kind; the typed lists (UserList, RoleList, AuditList) come
 * from the API. */
// TODO(api-types): GET /api/v1/datasets, /metrics, /jobs, /schedules (analytics) and GET /api/v1/models (ml)
// list replies are untyped today; use their generated *List schemas instead.
export interface Page<T> {
  items: T[];
  total: number;
}

export type QuerySpec = Schemas["QuerySpec"];
export type Grain = NonNullable<QuerySpec["grain"]>;
export const GRAINS: Grain[] = ["day", "week", "month", "quarter", "year"];

export type QueryFilter = Schemas["Filter"];
export type FilterOp = QueryFilter["op"];
export const FILTER_OPS: FilterOp[] = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains"];

export type Scalar = Exclude<QueryFilter["value"], unknown[]>;

export type Cell = string | number | boolean | null;

// TODO(api-types): POST /api/v1/query reply (untyped today).
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

// TODO(api-types): GET /api/v1/metrics and GET /api/v1/metrics/{name} reply (untyped today; the request is MetricDefinition).
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

// TODO(api-types): GET /api/v1/kpis reply items (untyped today).
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

export type ChartKind = Schemas["TileReply"]["chart"];
export const CHART_KINDS: ChartKind[] = ["kpi", "line", "bar", "area", "table"];

export type TileLayout = Schemas["Layout"];

// TODO(api-types): GET/POST/PUT /api/v1/dashboards reply: TileReply.query is untyped today (an object); use
// Schemas["TileReply"], Schemas["DashboardReply"] and Schemas["Listing_DashboardReply_"] as they are once it is a QuerySpec.
export type Tile = Omit<Schemas["TileReply"], "query"> & { query: QuerySpec };
export type Dashboard = Omit<Schemas["DashboardReply"], "tiles"> & { tiles: Tile[] };
export type DashboardList = Omit<Schemas["Listing_DashboardReply_"], "items"> & { items: Dashboard[] };

/** A tile as a client writes it: without an id the API gives it one. */
export type TileInput = Schemas["Tile"];

export type DashboardContent = Schemas["DashboardContent"];

export type HealthCheck = Schemas["CheckResult"];
export type Health = Schemas["Health"];
