/** Background jobs (imports, training, pipelines) as the Analytics API reports them, and how a page words them. */

import type { components } from "./api/analytics";

export type JobRequest = components["schemas"]["JobRequest"];
export type SchedulePatch = components["schemas"]["SchedulePatch"];

// TODO(api-types): GET /api/v1/jobs and GET /api/v1/jobs/{job_id} replies are untyped today: JobState, JobProgress, Job.
export type JobState = "PENDING" | "STARTED" | "PROGRESS" | "RETRY" | "SUCCESS" | "FAILURE" | "REVOKED";

export interface JobProgress {
  stage?: string;
  done?: number;
  total?: number;
  percent?: number;
}

export interface Job {
  id: string;
  task: string;
  summary: Record<string, unknown>;
  submitted_by: string | null;
  submitted_at: string;
  state: JobState | string;
  progress: JobProgress | null;
  result: unknown;
  error: string | null;
}

// TODO(api-types): GET /api/v1/schedules and PATCH /api/v1/schedules/{name} replies are untyped today.
export interface Schedule {
  name: string;
  task: string;
  crontab: string;
  enabled: boolean;
  description: string;
  last_run_at: string | null;
  next_run_at: string | null;
}

const FINISHED = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

export function isFinished(state: string): boolean {
  return FINISHED.has(state);
}

export function isRunning(state: string): boolean {
  return !isFinished(state);
}

export function anyRunning(jobs: readonly Pick<Job, "state">[]): boolean {
  return jobs.some((job) => isRunning(job.state));
}

const STATE_LABELS: Record<string, string> = {
  PENDING: "Waiting",
  STARTED: "Started",
  PROGRESS: "Running",
  RETRY: "Retrying",
  SUCCESS: "Done",
  FAILURE: "Failed",
  REVOKED: "Cancelled",
};

export function stateLabel(state: string): string {
  return STATE_LABELS[state] ?? state;
}

export function stateTone(state: string): "ok" | "down" | "running" {
  if (state === "SUCCESS") return "ok";
  if (state === "FAILURE" || state === "REVOKED") return "down";
  return "running";
}

const STAGE_LABELS: Record<string, string> = {
  download: "Fetching the file",
  parse: "Reading the file",
  hash: "Checking the file",
  copy: "Copying rows",
  done: "Finishing",
  read: "Reading rows",
  fit: "Fitting the model",
  evaluate: "Scoring on held-out rows",
  register: "Saving the version",
};

/** The share done from 0 to 100, or null while unknown (waiting, or a task that reports none). */
export function jobPercent(job: Pick<Job, "state" | "progress">): number | null {
  if (job.state === "SUCCESS") return 100;
  const progress = job.progress;
  if (progress === null || typeof progress !== "object") return null;
  if (typeof progress.percent === "number" && Number.isFinite(progress.percent)) {
    return clamp(progress.percent);
  }
  if (typeof progress.done === "number" && typeof progress.total === "number" && progress.total > 0) {
    return clamp((100 * progress.done) / progress.total);
  }
  return null;
}

function clamp(percent: number): number {
  return Math.min(100, Math.max(0, Math.round(percent * 10) / 10));
}

const count = new Intl.NumberFormat("en-US");

/** One line on where a job is: "Copying rows: 4,000 of 10,000 (40%)", "Waiting for a worker", "Done". */
export function progressText(job: Pick<Job, "state" | "progress" | "error">): string {
  if (job.state === "SUCCESS") return "Done";
  if (job.state === "FAILURE") return job.error ? `Failed: ${job.error}` : "Failed";
  if (job.state === "REVOKED") return "Cancelled";
  if (job.state === "PENDING") return "Waiting for a worker";
  if (job.state === "RETRY") return "Retrying after a temporary error";
  const progress = job.progress;
  if (progress === null || typeof progress !== "object") return "Started";
  const stage = progress.stage ? (STAGE_LABELS[progress.stage] ?? capitalize(progress.stage)) : "Running";
  const percent = jobPercent(job);
  const amounts =
    typeof progress.done === "number" && typeof progress.total === "number" && progress.total > 1
      ? `${count.format(progress.done)} of ${count.format(progress.total)}`
      : "";
  const parts = [amounts, percent === null ? "" : `${percent}%`].filter(Boolean);
  return parts.length === 0 ? stage : `${stage}: ${parts.length === 2 ? `${parts[0]} (${parts[1]})` : parts[0]}`;
}

const TASK_LABELS: Record<string, string> = {
  import_data: "Import",
  train_model: "Training",
  process_data: "Data pipeline",
  refresh_analytics_views: "Refresh rollups",
  calculate_kpis: "Calculate KPIs",
  update_ml_models: "Retrain models",
};

export function taskLabel(task: string): string {
  return TASK_LABELS[task] ?? task;
}

/** What the job works on, from its summary: "sales.csv into sales (append, 1,200 rows)". */
export function jobSubject(job: Pick<Job, "task" | "summary">): string {
  const s = job.summary ?? {};
  const text = (key: string): string | undefined => {
    const value = s[key];
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  if (job.task === "import_data") {
    const rows = typeof s.rows === "number" ? `, ${count.format(s.rows)} rows` : "";
    return `${text("filename") ?? "a file"} into ${text("dataset") ?? "?"} (${text("mode") ?? "append"}${rows})`;
  }
  if (job.task === "train_model") {
    return `model ${text("model") ?? "?"} on ${text("dataset") ?? "?"}, target ${text("target") ?? "?"}`;
  }
  if (job.task === "process_data") {
    return `${text("pipeline") ?? "pipeline"} of ${text("dataset") ?? "?"}`;
  }
  const dataset = text("dataset");
  return dataset ? `dataset ${dataset}` : "";
}

/** Where a finished job's result points: the dataset it imported into, the model version it trained. */
export function resultLink(job: Pick<Job, "task" | "state" | "result" | "summary">): { href: string; label: string } | null {
  if (job.state !== "SUCCESS" || job.result === null || typeof job.result !== "object") return null;
  const result = job.result as Record<string, unknown>;
  if (job.task === "import_data" && typeof result.dataset === "string") {
    const rows = typeof result.rows_imported === "number" ? `${count.format(result.rows_imported)} rows` : "rows";
    return { href: `/datasets/${encodeURIComponent(result.dataset)}`, label: `${rows} in ${result.dataset}` };
  }
  if (job.task === "train_model" && typeof result.model === "string") {
    const version = typeof result.version === "number" ? ` version ${result.version}` : "";
    return { href: `/models/${encodeURIComponent(result.model)}`, label: `${result.model}${version}` };
  }
  if (job.task === "process_data" && typeof result.dataset === "string") {
    return { href: `/datasets/${encodeURIComponent(result.dataset)}`, label: result.dataset };
  }
  return null;
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

/** A date-time in the reader's words, in UTC so server and browser render the same text. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A path segment as text; one that is not valid percent-encoding stays as it came. */
export function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
