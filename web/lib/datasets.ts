/** Datasets of the Analytics API: their shapes, the words for an import's errors, and uploads with progress. */

import type { components } from "./api/analytics";
import type { Problem } from "./problem";
import type { Cell } from "./types";

export type ColumnsPatch = components["schemas"]["ColumnsPatch"];
export type ColumnRole = NonNullable<components["schemas"]["ColumnPatch"]["role"]>;
export const COLUMN_ROLES: ColumnRole[] = ["time", "dimension", "measure"];
export const TIME_TYPES = ["date", "timestamptz"];

// TODO(api-types): GET /api/v1/datasets reply items are untyped today.
export interface DatasetSummary {
  name: string;
  description: string;
  row_count: number;
  data_version: number;
  created_at: string;
  updated_at: string;
}

// TODO(api-types): GET /api/v1/datasets/{name} reply is untyped today: DatasetColumn, ImportRecord, DatasetDetail
// (and PATCH /api/v1/datasets/{name}/columns, which answers the columns).
export interface DatasetColumn {
  name: string;
  source_name: string;
  type: string;
  role: ColumnRole;
  phi: boolean;
}

export interface ImportRecord {
  id: string;
  filename: string;
  file_format: string;
  size_bytes: number;
  sha256: string;
  mode: string;
  rows_imported: number;
  rows_skipped: number;
  skipped_sample: { line: number | null; reason: string }[] | null;
  column_mapping: Record<string, string> | null;
  data_version: number;
  job_id: string | null;
  imported_by: string | null;
  started_at: string;
  finished_at: string;
}

export interface DatasetDetail extends DatasetSummary {
  columns: DatasetColumn[];
  imports: ImportRecord[];
}

// TODO(api-types): GET /api/v1/datasets/{name}/rows reply is untyped today.
export interface RowsPage {
  columns: string[];
  rows: Cell[][];
  masked: string[];
  total: number;
  limit: number;
  offset: number;
}

// TODO(api-types): GET /api/v1/datasets/{name}/profile reply is untyped today: HistogramBin, ColumnProfile, DatasetProfile.
export type HistogramBin =
  | { from: number; to: number; count: number }
  | { month: string; count: number }
  | { value: Cell; count: number };

export interface ColumnProfile {
  name: string;
  type: string;
  role: ColumnRole;
  phi: boolean;
  nulls: number;
  distinct: number;
  min?: Cell;
  max?: Cell;
  histogram: HistogramBin[];
}

export interface DatasetProfile {
  dataset: string;
  data_version: number;
  stale: boolean;
  row_count: number;
  columns: ColumnProfile[];
  computed_at: string;
}

// TODO(api-types): POST /api/v1/datasets (202, or the duplicate's 200) reply is untyped today.
export type UploadReply =
  | { dataset: string; job_id: string; duplicate: false; status_url: string }
  | {
      dataset: string;
      job_id: null;
      duplicate: true;
      import: { import_id: string; rows_imported: number; rows_skipped: number; data_version: number };
    };

/** Where an import's error points, as the API's 422 itemises it (an error item about the `file`). */
export interface FileProblem {
  file: string | null;
  line: number | null;
  column: string | null;
}

/** The refused file's name, line and column from a problem's items; null when no item is about a file. */
export function fileProblem(problem: Problem): FileProblem | null {
  const item = problem.errors.find((candidate) => candidate.loc[0] === "file");
  if (item === undefined) return null;
  return {
    file: item.file ?? null,
    line: item.line ?? null,
    column: item.column ?? null,
  };
}

/** A dataset name the API takes: a plain identifier (a lowercase letter, then letters, digits, _), up to 63 characters. */
export function datasetNameProblem(name: string): string | null {
  if (name.trim() === "") return "Give the dataset a name.";
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
    return "Use lowercase letters, digits and _ only, starting with a letter (at most 63 characters).";
  }
  return null;
}

/** A name for a dataset from a file's name: "Sales 2024.csv" → "sales_2024". */
export function suggestDatasetName(filename: string): string {
  const base = filename.replace(/\.gz$/i, "").replace(/\.(csv|parquet|jsonl|ndjson)$/i, "");
  let name = base
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .replace(/_+/g, "_");
  if (!/^[a-z]/.test(name)) name = `d_${name}`.replace(/_+$/, "");
  return name.slice(0, 63).replace(/_+$/, "") || "dataset";
}

export interface UploadProgress {
  loaded: number;
  total: number;
  percent: number | null;
}

/** The share of a file sent so far; unknown (null) when the browser cannot tell the total. */
export function uploadProgress(loaded: number, total: number, lengthComputable = true): UploadProgress {
  if (!lengthComputable || total <= 0) return { loaded, total: 0, percent: null };
  return { loaded, total, percent: Math.min(100, Math.round((100 * loaded) / total)) };
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A column's profile in one line: its range, or counts only for PHI. */
export function profileRange(column: ColumnProfile): string {
  if (column.phi) return "PHI: counts only";
  if (column.type === "boolean") {
    const counts = column.histogram.flatMap((bin) => ("value" in bin ? [`${String(bin.value)}: ${bin.count}`] : []));
    return counts.length ? counts.join(", ") : "no values";
  }
  if (column.min === undefined || column.min === null) return "no values";
  const show = (value: Cell | undefined) =>
    typeof value === "number" ? new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(value) : String(value);
  return column.min === column.max ? show(column.min) : `${show(column.min)} – ${show(column.max)}`;
}

export function binLabel(bin: HistogramBin): string {
  if ("month" in bin) return bin.month.slice(0, 7);
  if ("from" in bin) {
    const f = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
    return `${f.format(bin.from)}–${f.format(bin.to)}`;
  }
  return bin.value === null ? "(null)" : String(bin.value);
}
