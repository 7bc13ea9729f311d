"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";

import { JobWatch } from "@/components/jobs/job-watch";
import { callFromBrowser, callWithProblem } from "@/lib/request";
import type { DatasetColumn, DatasetDetail } from "@/lib/datasets";
import {
  ALGORITHMS,
  ALGORITHM_LABELS,
  TASKS,
  formatMetric,
  isQueued,
  metricRows,
  modelNameProblem,
  type Algorithm,
  type Task,
  type TrainReply,
  type TrainRequest,
  type ModelVersion,
} from "@/lib/models";

const FEATURE_TYPES = new Set(["bigint", "double precision", "numeric", "boolean", "text"]);

export interface TrainDefaults {
  model?: string;
  dataset?: string;
  target?: string;
  task?: Task;
  features?: string[];
  algorithm?: string;
}

type Outcome = { kind: "trained"; version: ModelVersion } | { kind: "queued"; jobId: string; model: string; why?: string };

/** Train a new version: dataset, target, task, and optionally features and algorithm; ?wait=true on small data. */
export function TrainForm({ datasets, defaults = {}, fixedModel = false }: { datasets: string[]; defaults?: TrainDefaults; fixedModel?: boolean }) {
  const router = useRouter();
  const [model, setModel] = useState(defaults.model ?? "");
  const [dataset, setDataset] = useState(defaults.dataset ?? "");
  const [columns, setColumns] = useState<DatasetColumn[] | null>(null);
  const [columnsProblem, setColumnsProblem] = useState<string | null>(null);
  const [target, setTarget] = useState(defaults.target ?? "");
  const [task, setTask] = useState<Task>(defaults.task ?? "classification");
  const [chooseFeatures, setChooseFeatures] = useState(Boolean(defaults.features?.length));
  const [features, setFeatures] = useState<string[]>(defaults.features ?? []);
  const [algorithm, setAlgorithm] = useState<Algorithm>(
    ALGORITHMS.includes(defaults.algorithm as Algorithm) ? (defaults.algorithm as Algorithm) : "hist_gradient_boosting",
  );
  const [wait, setWait] = useState(true);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  useEffect(() => {
    if (!dataset) return;
    let current = true;
    void callFromBrowser<DatasetDetail>("analytics", `datasets/${encodeURIComponent(dataset)}`).then((reply) => {
      if (!current) return;
      if (reply.ok) {
        setColumns(reply.value.columns);
        setColumnsProblem(null);
      } else {
        setColumns(null);
        setColumnsProblem(reply.message);
      }
    });
    return () => {
      current = false;
    };
  }, [dataset]);

  const usable = (columns ?? []).filter((column) => FEATURE_TYPES.has(column.type));
  const candidates = usable.filter((column) => column.name !== target);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    const nameProblem = modelNameProblem(model);
    if (nameProblem) found.model = nameProblem;
    if (!dataset) found.dataset = "Choose a dataset.";
    if (!target) found.target = "Choose the column to predict.";
    if (chooseFeatures && features.length === 0) found.features = "Tick at least one feature, or use the default features.";
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const body: TrainRequest = { dataset, target, task, algorithm };
    if (chooseFeatures) body.features = features.filter((name) => name !== target);
    setBusy(true);
    setProblem(null);
    setOutcome(null);
    const reply = await callWithProblem<TrainReply>("ml", `models/${encodeURIComponent(model)}/train`, {
      method: "POST",
      json: body,
      query: wait ? { wait: "true" } : undefined,
    });
    setBusy(false);
    if (!reply.ok) {
      setProblem(reply.message);
      return;
    }
    if (isQueued(reply.value)) {
      setOutcome({ kind: "queued", jobId: reply.value.job_id, model: reply.value.model, why: reply.value.queued_because });
    } else {
      setOutcome({ kind: "trained", version: reply.value });
      router.refresh();
    }
  }

  return (
    <div className="stack">
      <form className="card stack" onSubmit={submit} noValidate aria-label="Train a model">
        <div className="form-grid">
          <label className="field">
            <span>Model name</span>
            <input
              name="model"
              value={model}
              onChange={(event) => setModel(event.target.value)}
              readOnly={fixedModel}
              autoComplete="off"
              aria-invalid={errors.model ? true : undefined}
              aria-describedby={errors.model ? "model-error" : undefined}
            />
            {errors.model ? (
              <small id="model-error" className="field-error">
                {errors.model}
              </small>
            ) : null}
          </label>
          <label className="field">
            <span>Dataset</span>
            <select
              name="dataset"
              value={dataset}
              onChange={(event) => {
                setDataset(event.target.value);
                setColumns(null);
                setTarget("");
                setFeatures([]);
              }}
              aria-invalid={errors.dataset ? true : undefined}
            >
              <option value="">Choose a dataset</option>
              {datasets.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
            {errors.dataset ? <small className="field-error">{errors.dataset}</small> : null}
          </label>
          <label className="field">
            <span>Target (column to predict)</span>
            <select
              name="target"
              value={target}
              onChange={(event) => setTarget(event.target.value)}
              disabled={columns === null}
              aria-invalid={errors.target ? true : undefined}
            >
              <option value="">{columns === null ? (dataset ? "Loading columns…" : "Choose a dataset first") : "Choose a column"}</option>
              {usable.map((column) => (
                <option key={column.name} value={column.name}>
                  {`${column.name} (${column.type})`}
                </option>
              ))}
            </select>
            {errors.target ? <small className="field-error">{errors.target}</small> : null}
          </label>
          <label className="field">
            <span>Task</span>
            <select name="task" value={task} onChange={(event) => setTask(event.target.value as Task)}>
              {TASKS.map((item) => (
                <option key={item} value={item}>
                  {item}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Algorithm</span>
            <select name="algorithm" value={algorithm} onChange={(event) => setAlgorithm(event.target.value as Algorithm)}>
              {ALGORITHMS.map((item) => (
                <option key={item} value={item}>
                  {ALGORITHM_LABELS[item]}
                </option>
              ))}
            </select>
          </label>
        </div>
        {columnsProblem ? (
          <p className="notice notice-error" role="alert">
            {columnsProblem}
          </p>
        ) : null}
        <fieldset>
          <legend>Features</legend>
          <label className="check">
            <input type="checkbox" checked={chooseFeatures} onChange={(event) => setChooseFeatures(event.target.checked)} />
            Choose the features myself (default: every number, boolean and text column but the target that is not PHI)
          </label>
          {chooseFeatures ? (
            candidates.length === 0 ? (
              <p className="small muted">{columns === null ? "Choose a dataset first." : "No other usable columns."}</p>
            ) : (
              <div className="checks" style={{ marginTop: "0.5rem" }}>
                {candidates.map((column) => (
                  <label key={column.name}>
                    <input
                      type="checkbox"
                      checked={features.includes(column.name)}
                      onChange={(event) =>
                        setFeatures(event.target.checked ? [...features, column.name] : features.filter((name) => name !== column.name))
                      }
                    />
                    {column.name}
                    {column.phi ? " (PHI)" : ""}
                  </label>
                ))}
              </div>
            )
          ) : null}
          {errors.features ? <p className="field-error">{errors.features}</p> : null}
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={wait} onChange={(event) => setWait(event.target.checked)} />
          Wait for small datasets (up to 20,000 rows train in the request; larger ones run as a job)
        </label>
        <div className="row">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? "Training…" : "Train"}
          </button>
          {busy ? (
            <span className="small muted" role="status">
              Fitting and scoring; this takes a few seconds.
            </span>
          ) : null}
        </div>
      </form>
      {problem ? (
        <p className="notice notice-error" role="alert" data-testid="train-error">
          {problem}
        </p>
      ) : null}
      {outcome?.kind === "trained" ? <Trained version={outcome.version} /> : null}
      {outcome?.kind === "queued" ? (
        <>
          {outcome.why ? <p className="notice notice-info">Queued as a job: {outcome.why}.</p> : null}
          <JobWatch
            jobId={outcome.jobId}
            title={`Training ${outcome.model}`}
            onFinished={(job) => {
              if (job.state === "SUCCESS") router.refresh();
            }}
          />
        </>
      ) : null}
    </div>
  );
}

function Trained({ version }: { version: ModelVersion }) {
  const rows = metricRows(version.metrics);
  return (
    <div className="notice notice-info stack" role="status" data-testid="train-result" style={{ gap: "0.35rem" }}>
      <strong>
        Trained {version.model} version {version.version}.
      </strong>
      {rows.length > 0 ? (
        <span>
          {rows.map((row) => `${row.label} ${formatMetric(row.value)} (baseline ${formatMetric(row.baseline)})`).join(" · ")}
        </span>
      ) : null}
      <Link href={`/models/${encodeURIComponent(version.model)}`}>Open model {version.model}</Link>
    </div>
  );
}
