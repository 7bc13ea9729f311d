"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";

import { JobWatch } from "@/components/jobs/job-watch";
import { ProgressBar } from "@/components/jobs/progress-bar";
import {
  datasetNameProblem,
  formatBytes,
  fileProblem,
  suggestDatasetName,
  type FileProblem,
  type UploadProgress,
  type UploadReply,
} from "@/lib/datasets";
import { sendMultipart } from "@/lib/upload";

type Phase =
  | { kind: "idle" }
  | { kind: "sending"; progress: UploadProgress }
  | { kind: "checking" }
  | { kind: "failed"; message: string; file: FileProblem | null }
  | { kind: "queued"; dataset: string; jobId: string }
  | { kind: "duplicate"; dataset: string; rows: number };

/** Upload a CSV, Parquet or JSON Lines file into a dataset: the bytes with a progress bar, then the import job. */
export function UploadForm({ datasets, initialName = "" }: { datasets: string[]; initialName?: string }) {
  const router = useRouter();
  const [name, setName] = useState(initialName);
  const [nameTouched, setNameTouched] = useState(initialName !== "");
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<"append" | "replace">("append");
  const [onError, setOnError] = useState<"fail" | "skip">("fail");
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [nameError, setNameError] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  const busy = phase.kind === "sending" || phase.kind === "checking";
  const existing = datasets.includes(name);

  function chooseFile(chosen: File | null) {
    setFile(chosen);
    setFileError(null);
    if (chosen && !nameTouched) setName(suggestDatasetName(chosen.name));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const nameProblem = datasetNameProblem(name);
    setNameError(nameProblem);
    setFileError(file ? null : "Choose a file to upload.");
    if (nameProblem || !file) return;
    const form = new FormData();
    form.set("name", name);
    form.set("mode", mode);
    form.set("on_error", onError);
    form.set("file", file, file.name);
    const controller = new AbortController();
    abort.current = controller;
    setPhase({ kind: "sending", progress: { loaded: 0, total: file.size, percent: 0 } });
    const outcome = await sendMultipart<UploadReply>("analytics", "datasets", form, {
      signal: controller.signal,
      onProgress: (progress) =>
        setPhase(progress.percent === 100 ? { kind: "checking" } : { kind: "sending", progress }),
    });
    abort.current = null;
    if (!outcome.ok) {
      const where = outcome.status === 422 && outcome.problem ? fileProblem(outcome.problem) : null;
      setPhase({ kind: "failed", message: outcome.message, file: where });
      return;
    }
    const reply = outcome.value;
    if (reply.duplicate) {
      setPhase({ kind: "duplicate", dataset: reply.dataset, rows: reply.import.rows_imported });
    } else {
      setPhase({ kind: "queued", dataset: reply.dataset, jobId: reply.job_id });
    }
  }

  return (
    <div className="stack">
      <form className="card stack" onSubmit={submit} noValidate aria-describedby="upload-help">
        <p id="upload-help" className="small muted">
          CSV, Parquet or JSON Lines, optionally gzipped (.gz). The whole file is checked before anything is imported.
        </p>
        <label className="field">
          <span>File</span>
          <input
            type="file"
            name="file"
            accept=".csv,.parquet,.jsonl,.ndjson,.gz,text/csv"
            onChange={(event) => chooseFile(event.target.files?.[0] ?? null)}
            aria-invalid={fileError ? true : undefined}
            aria-describedby={fileError ? "file-error" : undefined}
            disabled={busy}
          />
          {file ? <small className="small muted">{`${file.name}, ${formatBytes(file.size)}`}</small> : null}
          {fileError ? (
            <small id="file-error" className="field-error">
              {fileError}
            </small>
          ) : null}
        </label>
        <div className="form-grid">
          <label className="field">
            <span>Dataset name</span>
            <input
              name="name"
              value={name}
              list="known-datasets"
              autoComplete="off"
              onChange={(event) => {
                setName(event.target.value);
                setNameTouched(true);
                setNameError(null);
              }}
              aria-invalid={nameError ? true : undefined}
              aria-describedby="name-hint"
              disabled={busy}
            />
            <datalist id="known-datasets">
              {datasets.map((dataset) => (
                <option key={dataset} value={dataset} />
              ))}
            </datalist>
            <small id="name-hint" className={nameError ? "field-error" : "muted"}>
              {nameError ?? (existing ? `Adds to the existing dataset ${name}.` : "A new dataset is created.")}
            </small>
          </label>
          <label className="field">
            <span>Mode</span>
            <select name="mode" value={mode} onChange={(event) => setMode(event.target.value as "append" | "replace")} disabled={busy}>
              <option value="append">Append rows</option>
              <option value="replace">Replace all rows</option>
            </select>
          </label>
          <label className="field">
            <span>Bad rows</span>
            <select name="on_error" value={onError} onChange={(event) => setOnError(event.target.value as "fail" | "skip")} disabled={busy}>
              <option value="fail">Refuse the file</option>
              <option value="skip">Skip them and count them</option>
            </select>
          </label>
        </div>
        <div className="row">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? "Uploading…" : "Upload"}
          </button>
          {phase.kind === "sending" ? (
            <button type="button" className="button" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          ) : null}
        </div>
        {phase.kind === "sending" ? (
          <div className="stack" style={{ gap: "0.25rem" }}>
            <ProgressBar percent={phase.progress.percent} label="Upload progress" />
            <p className="small" role="status" aria-live="polite" data-testid="upload-status">
              Sending {formatBytes(phase.progress.loaded)}
              {phase.progress.total ? ` of ${formatBytes(phase.progress.total)}` : ""}
              {phase.progress.percent === null ? "" : ` (${phase.progress.percent}%)`}
            </p>
          </div>
        ) : null}
        {phase.kind === "checking" ? (
          <div className="stack" style={{ gap: "0.25rem" }}>
            <ProgressBar percent={100} label="Upload progress" />
            <p className="small" role="status" aria-live="polite" data-testid="upload-status">
              Sent. The Analytics API is checking the whole file…
            </p>
          </div>
        ) : null}
      </form>

      {phase.kind === "failed" ? <UploadProblem message={phase.message} file={phase.file} /> : null}
      {phase.kind === "duplicate" ? (
        <p className="notice notice-info" role="status">
          This file was imported into {phase.dataset} before ({phase.rows.toLocaleString("en-US")} rows); nothing was added.{" "}
          <Link href={`/datasets/${encodeURIComponent(phase.dataset)}`}>Open {phase.dataset}</Link>
        </p>
      ) : null}
      {phase.kind === "queued" ? (
        <JobWatch
          jobId={phase.jobId}
          title={`Import into ${phase.dataset}`}
          onFinished={(job) => {
            if (job.state === "SUCCESS") router.refresh();
          }}
        />
      ) : null}
    </div>
  );
}

function UploadProblem({ message, file }: { message: string; file: FileProblem | null }) {
  return (
    <div className="notice notice-error stack" role="alert" data-testid="upload-error" style={{ gap: "0.35rem" }}>
      <strong>The file was not imported.</strong>
      <span>{message}</span>
      {file && (file.line !== null || file.column !== null) ? (
        <dl className="kv">
          {file.file ? (
            <>
              <dt>File</dt>
              <dd>{file.file}</dd>
            </>
          ) : null}
          {file.line !== null ? (
            <>
              <dt>Line</dt>
              <dd data-testid="upload-error-line">{file.line}</dd>
            </>
          ) : null}
          {file.column !== null ? (
            <>
              <dt>Column</dt>
              <dd data-testid="upload-error-column">{file.column}</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <span className="small">Fix the file and upload it again, or choose “Skip them and count them” for bad rows.</span>
    </div>
  );
}
