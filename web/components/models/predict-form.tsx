"use client";

import { useState, type FormEvent } from "react";

import { callWithProblem } from "@/lib/request";
import {
  buildRecord,
  predictProblems,
  predictionRows,
  type FieldNote,
  type ModelVersion,
  type PredictReply,
} from "@/lib/models";

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

const KIND_HINTS = { number: "a number", boolean: "true or false", text: "text" } as const;

/** One record's feature values, typed from the version's features, through POST /models/{name}/predict. */
export function PredictForm({ model, versions, defaultVersion }: { model: string; versions: ModelVersion[]; defaultVersion: number }) {
  const [versionNumber, setVersionNumber] = useState(defaultVersion);
  const [values, setValues] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [reply, setReply] = useState<PredictReply | null>(null);
  const [failure, setFailure] = useState<{ message: string; items: FieldNote[] } | null>(null);
  const version = versions.find((item) => item.version === versionNumber) ?? versions[0];
  if (!version) return null;
  const { notes } = buildRecord(version.features, values);
  const noted = new Map(notes.map((note) => [note.feature, note.message]));
  const failed = new Set(failure?.items.map((item) => item.feature).filter(Boolean));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!version) return;
    const { record } = buildRecord(version.features, values);
    setBusy(true);
    setReply(null);
    setFailure(null);
    // TODO(api-types): POST /api/v1/models/{name}/predict (ml) takes an untyped body today ({records, version}).
    const outcome = await callWithProblem<PredictReply>("ml", `models/${encodeURIComponent(model)}/predict`, {
      method: "POST",
      json: { records: [record], version: version.version },
    });
    setBusy(false);
    if (outcome.ok) {
      setReply(outcome.value);
      return;
    }
    const items = outcome.status === 422 && outcome.problem ? predictProblems(outcome.problem) : [];
    setFailure({ message: items.length > 0 ? "The service refused the input:" : outcome.message, items });
  }

  const rows = reply ? predictionRows(reply) : [];
  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Predict one record">
      <div className="row">
        <label className="field">
          <span>Version</span>
          <select
            value={version.version}
            onChange={(event) => {
              setVersionNumber(Number(event.target.value));
              setReply(null);
              setFailure(null);
            }}
          >
            {versions.map((item) => (
              <option key={item.version} value={item.version}>
                {`Version ${item.version}${item.aliases.length ? ` (${item.aliases.join(", ")})` : ""}`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset>
        <legend>Feature values</legend>
        <p className="small muted">Leave a field empty for a missing value; the model fills it in as in training.</p>
        <div className="form-grid">
          {version.features.map((feature) => {
            const id = `feature-${feature.name}`;
            const warning = noted.get(feature.name);
            const invalid = Boolean(warning) || failed.has(feature.name);
            return (
              <label key={feature.name} className="field" htmlFor={id}>
                <span>
                  {feature.name} <span className="muted">({KIND_HINTS[feature.type]})</span>
                </span>
                {feature.type === "boolean" ? (
                  <select
                    id={id}
                    name={feature.name}
                    value={values[feature.name] ?? ""}
                    onChange={(event) => setValues({ ...values, [feature.name]: event.target.value })}
                    aria-invalid={invalid || undefined}
                  >
                    <option value="">(missing)</option>
                    <option value="true">true</option>
                    <option value="false">false</option>
                  </select>
                ) : (
                  <input
                    id={id}
                    name={feature.name}
                    inputMode={feature.type === "number" ? "decimal" : undefined}
                    value={values[feature.name] ?? ""}
                    onChange={(event) => setValues({ ...values, [feature.name]: event.target.value })}
                    aria-invalid={invalid || undefined}
                    aria-describedby={warning ? `${id}-note` : undefined}
                    autoComplete="off"
                  />
                )}
                {warning ? (
                  <small id={`${id}-note`} className="field-error">
                    {`${capitalize(warning)}.`}
                  </small>
                ) : null}
              </label>
            );
          })}
        </div>
      </fieldset>
      <div className="row">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Predicting…" : "Predict"}
        </button>
      </div>
      {failure ? (
        <div className="notice notice-error" role="alert" data-testid="predict-error">
          <strong>{failure.message}</strong>
          {failure.items.length > 0 ? (
            <ul>
              {failure.items.map((item, index) => (
                <li key={index}>{item.message}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {reply && rows[0] ? (
        <div className="notice notice-info stack" role="status" data-testid="predict-result" style={{ gap: "0.35rem" }}>
          <span>
            Version {reply.version} predicts <strong data-testid="prediction">{rows[0].prediction}</strong>
            {version.task === "regression" ? ` for ${version.target}` : ""}.
          </span>
          {rows[0].probabilities.length > 0 ? (
            <table>
              <caption className="sr-only">Probability of each class</caption>
              <thead>
                <tr>
                  <th scope="col">Class</th>
                  <th scope="col" className="num">
                    Probability
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows[0].probabilities.map((item) => (
                  <tr key={item.label}>
                    <td>{item.label}</td>
                    <td className="num">{(item.value * 100).toFixed(1)}%</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}
