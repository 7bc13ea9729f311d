/** Models of the ML service: their shapes, metrics beside the baseline, and one record typed for a prediction. */

import type { components } from "./api/ml";
import { fieldName, itemMessage, type Problem } from "./problem";

export type TrainRequest = components["schemas"]["TrainingSpec"];
export type AliasRequest = components["schemas"]["AliasBody"];
export type Task = TrainRequest["task"];
export const TASKS: Task[] = ["classification", "regression"];
export type Algorithm = NonNullable<TrainRequest["algorithm"]>;
export const ALGORITHMS: Algorithm[] = ["hist_gradient_boosting", "random_forest", "linear", "logistic"];
export const ALGORITHM_LABELS: Record<Algorithm, string> = {
  hist_gradient_boosting: "Gradient boosting (default)",
  random_forest: "Random forest",
  linear: "Linear (ridge or logistic regression)",
  logistic: "Logistic regression (classification)",
};

// TODO(api-types): GET /api/v1/models, GET /api/v1/models/{name} and GET /api/v1/models/{name}/versions/{version}
// (ml) replies are untyped today: FeatureKind, Feature, Metrics, ModelSummary, ModelVersion, ModelDetail.
export type FeatureKind = "number" | "boolean" | "text";

export interface Feature {
  name: string;
  type: FeatureKind;
}

export type Metrics = Record<string, unknown> & { baseline?: Record<string, unknown> };

export interface ModelSummary {
  name: string;
  task: Task;
  target: string;
  latest_version: number | null;
  aliases: Record<string, number>;
  dataset: string | null;
  metrics: Metrics | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface ModelVersion {
  model: string;
  version: number;
  task: Task;
  algorithm: string;
  params: Record<string, unknown>;
  metrics: Metrics;
  dataset: string;
  data_version: number;
  target: string;
  features: Feature[];
  classes: (string | number | boolean)[] | null;
  training: Record<string, unknown>;
  aliases: string[];
  decision: Record<string, unknown> | null;
  artifact: { key: string; sha256: string; size_bytes: number };
  job_id: string | null;
  created_by: string | null;
  created_at: string;
}

export interface ModelDetail extends ModelSummary {
  versions: ModelVersion[];
}

/** 202: queued as a job; 201 (?wait=true on a small dataset): the new version itself. */
// TODO(api-types): POST /api/v1/models/{name}/train (ml) reply is untyped today.
export type TrainReply = { job_id: string; model: string; status_url: string; queued_because?: string } | ModelVersion;

export function isQueued(reply: TrainReply): reply is Extract<TrainReply, { job_id: string; status_url: string }> {
  return "status_url" in reply && typeof reply.job_id === "string";
}

// TODO(api-types): POST /api/v1/models/{name}/predict (ml) reply is untyped today.
export interface PredictReply {
  model: string;
  version: number;
  predictions: (number | string | boolean | null)[];
  classes?: (string | number | boolean)[];
  probabilities?: number[][];
}

const METRIC_LABELS: Record<string, string> = {
  accuracy: "Accuracy",
  f1: "F1",
  roc_auc: "ROC AUC",
  rmse: "RMSE",
  mae: "MAE",
  r2: "R²",
};
const LOWER_IS_BETTER = new Set(["rmse", "mae"]);

export interface MetricRow {
  key: string;
  label: string;
  value: number | null;
  baseline: number | null;
  /** Whether the model beats the baseline on this metric; null when either is missing. */
  better: boolean | null;
}

function asNumber(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A version's held-out metrics, each beside the baseline's on the same rows. */
export function metricRows(metrics: Metrics | null | undefined): MetricRow[] {
  if (!metrics) return [];
  const baseline = (metrics.baseline ?? {}) as Record<string, unknown>;
  return Object.keys(metrics)
    .filter((key) => key !== "baseline" && asNumber(metrics[key]) !== null)
    .map((key) => {
      const value = asNumber(metrics[key]);
      const base = asNumber(baseline[key]);
      const better =
        value === null || base === null ? null : LOWER_IS_BETTER.has(key) ? value < base : value > base;
      return { key, label: METRIC_LABELS[key] ?? key, value, baseline: base, better };
    });
}

export function formatMetric(value: number | null): string {
  if (value === null) return "—";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 }).format(value);
}

/** The first metric, as a one-line summary for a list of models. */
export function headlineMetric(metrics: Metrics | null | undefined): string {
  const rows = metricRows(metrics);
  const preferred = ["roc_auc", "f1", "accuracy", "r2", "rmse"];
  const row = preferred.map((key) => rows.find((r) => r.key === key)).find((r) => r !== undefined) ?? rows[0];
  if (!row) return "no metrics";
  return `${row.label} ${formatMetric(row.value)}${row.baseline === null ? "" : ` (baseline ${formatMetric(row.baseline)})`}`;
}

export type FeatureValue = number | string | boolean | null;

export interface FieldNote {
  feature: string;
  message: string;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** What a form field holds, as the value JSON carries for a feature of this kind. An empty field is null
 * (a missing value the model fills in as in training). Text that is not a number stays text, so the service
 * can say which feature has the wrong type; `note` warns before sending. */
export function parseFeatureValue(kind: FeatureKind, raw: string): { value: FeatureValue; note: string | null } {
  const text = raw.trim();
  if (text === "") return { value: null, note: null };
  if (kind === "number") {
    const plain = text.replace(/,/g, "");
    if (NUMBER.test(plain)) return { value: Number(plain), note: null };
    return { value: raw, note: "is not a number" };
  }
  if (kind === "boolean") {
    const lower = text.toLowerCase();
    if (["true", "yes", "1"].includes(lower)) return { value: true, note: null };
    if (["false", "no", "0"].includes(lower)) return { value: false, note: null };
    return { value: raw, note: "is not true or false" };
  }
  return { value: raw, note: null };
}

/** One record with every feature of the version, typed from the form's text. */
export function buildRecord(features: readonly Feature[], values: Readonly<Record<string, string>>): {
  record: Record<string, FeatureValue>;
  notes: FieldNote[];
} {
  const record: Record<string, FeatureValue> = {};
  const notes: FieldNote[] = [];
  for (const feature of features) {
    const parsed = parseFeatureValue(feature.type, values[feature.name] ?? "");
    record[feature.name] = parsed.value;
    if (parsed.note) notes.push({ feature: feature.name, message: `${feature.name} ${parsed.note}` });
  }
  return { record, notes };
}

/** The wrong fields a predict 422 lists, one item each; `feature` is set when an item names one. */
export function predictProblems(problem: Problem): FieldNote[] {
  if (problem.errors.length > 0) {
    return problem.errors.map((item) => ({
      feature: item.loc[0] === "features" ? String(item.loc[1] ?? "") : fieldName(item.loc),
      message: itemMessage(item),
    }));
  }
  const detail = problem.detail.trim();
  if (detail === "") return [];
  const body = detail.replace(/^input for model [^:]+:\s*/i, "");
  return body
    .split(/;\s+/)
    .filter((part) => part.trim() !== "")
    .map((part) => {
      const named = /\bfeatures? ([A-Za-z_][A-Za-z0-9_]*)/.exec(part);
      return { feature: named ? named[1]! : "", message: capitalize(part.trim()) };
    });
}

export interface PredictionRow {
  prediction: string;
  probabilities: { label: string; value: number }[];
}

/** The reply for one record in words: the predicted value, and each class's probability, most likely first. */
export function predictionRows(reply: PredictReply): PredictionRow[] {
  return reply.predictions.map((prediction, index) => {
    const probs = reply.probabilities?.[index] ?? [];
    const classes = reply.classes ?? [];
    const probabilities = probs
      .map((value, i) => ({ label: String(classes[i] ?? i), value }))
      .sort((a, b) => b.value - a.value);
    const shown =
      typeof prediction === "number" ? new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 }).format(prediction) : String(prediction);
    return { prediction: shown, probabilities };
  });
}

/** A model name the service takes: the same plain identifiers as datasets. */
export function modelNameProblem(name: string): string | null {
  if (name.trim() === "") return "Give the model a name.";
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
    return "Use lowercase letters, digits and _ only, starting with a letter (at most 63 characters).";
  }
  return null;
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}
