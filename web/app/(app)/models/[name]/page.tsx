import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { ErrorNotice } from "@/components/error-notice";
import { AliasForm } from "@/components/models/alias-form";
import { PredictForm } from "@/components/models/predict-form";
import { apiGetOnce, can, requirePermission, settle } from "@/lib/api";
import { formatTime, segment } from "@/lib/jobs";
import { formatMetric, metricRows, type ModelDetail, type ModelVersion } from "@/lib/models";
import { isMissing } from "@/lib/problem";
import { subjectPath } from "@/lib/subject";

type Props = { params: Promise<{ name: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Model ${segment((await params).name)}` };
}

function MetricsTable({ version }: { version: ModelVersion }) {
  const rows = metricRows(version.metrics);
  if (rows.length === 0) return <p className="empty">No metrics recorded.</p>;
  return (
    <table data-testid={`metrics-v${version.version}`}>
      <caption className="sr-only">Held-out metrics of version {version.version} beside the baseline</caption>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          <th scope="col" className="num">
            Model
          </th>
          <th scope="col" className="num">
            Baseline
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key}>
            <th scope="row">{row.label}</th>
            <td className={`num ${row.better === true ? "better" : row.better === false ? "worse" : ""}`}>
              {formatMetric(row.value)}
              {row.better === true ? <span className="sr-only"> (better than the baseline)</span> : null}
              {row.better === false ? <span className="sr-only"> (not better than the baseline)</span> : null}
            </td>
            <td className="num">{formatMetric(row.baseline)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function retrainHref(model: string, version: ModelVersion): string {
  const params = new URLSearchParams({
    model,
    dataset: version.dataset,
    target: version.target,
    task: version.task,
    algorithm: version.algorithm,
    features: version.features.map((feature) => feature.name).join(","),
  });
  return `/models/train?${params.toString()}`;
}

export default async function ModelPage({ params }: Props) {
  const user = await requirePermission("models:read");
  const rawName = (await params).name;
  const name = segment(rawName);
  const loaded = await settle(apiGetOnce<ModelDetail>("ml", subjectPath("/api/v1/models/", rawName)));
  if (!loaded.ok) {
    if (isMissing(loaded.error)) notFound();
    return (
      <div className="stack">
        <h1>Model {name}</h1>
        <ErrorNotice error={loaded.error} title="The model could not be loaded" />
      </div>
    );
  }
  const model = loaded.value;
  const versions = model.versions;
  const latest = versions[0];
  const production = model.aliases.production;
  const defaultVersion = production ?? latest?.version ?? 1;
  const aliases = Object.entries(model.aliases);

  return (
    <div className="stack">
      <p className="small">
        <Link href="/models">← Models</Link>
      </p>
      <div className="spread">
        <h1>Model {model.name}</h1>
        {can(user, "models:train") && latest ? (
          <Link href={retrainHref(model.name, latest)} className="button">
            Train a new version
          </Link>
        ) : null}
      </div>
      <dl className="kv card">
        <dt>Task</dt>
        <dd>{model.task}</dd>
        <dt>Target</dt>
        <dd>{model.target}</dd>
        <dt>Dataset</dt>
        <dd>{model.dataset ? <Link href={`/datasets/${encodeURIComponent(model.dataset)}`}>{model.dataset}</Link> : "—"}</dd>
        <dt>Aliases</dt>
        <dd data-testid="aliases">
          {aliases.length === 0 ? "none (predictions use the latest version)" : aliases.map(([alias, version]) => `${alias} → version ${version}`).join(", ")}
        </dd>
      </dl>

      <section className="card stack" aria-labelledby="versions">
        <h2 id="versions">Versions</h2>
        {versions.length === 0 ? (
          <p className="empty">No versions.</p>
        ) : (
          <ul className="list-plain stack">
            {versions.map((version) => (
              <li key={version.version} className="stack" style={{ gap: "0.5rem", borderTop: "1px solid var(--border)", paddingTop: "0.75rem" }}>
                <div className="spread">
                  <h3>
                    Version {version.version}{" "}
                    {version.aliases.map((alias) => (
                      <span key={alias} className="badge badge-ok" style={{ marginLeft: "0.25rem" }}>
                        {alias}
                      </span>
                    ))}
                  </h3>
                  <span className="small muted">
                    {formatTime(version.created_at)}
                    {version.created_by ? ` by ${version.created_by}` : ""}
                  </span>
                </div>
                <div className="row" style={{ alignItems: "flex-start" }}>
                  <div className="table-wrap" style={{ flex: "1 1 260px" }}>
                    <MetricsTable version={version} />
                  </div>
                  <dl className="kv small" style={{ flex: "1 1 260px" }}>
                    <dt>Algorithm</dt>
                    <dd>{version.algorithm}</dd>
                    <dt>Trained on</dt>
                    <dd>
                      {version.dataset}, data version {version.data_version}
                    </dd>
                    <dt>Features</dt>
                    <dd>{version.features.map((feature) => `${feature.name} (${feature.type})`).join(", ")}</dd>
                    {version.classes ? (
                      <>
                        <dt>Classes</dt>
                        <dd>{version.classes.map(String).join(", ")}</dd>
                      </>
                    ) : null}
                    {version.decision ? (
                      <>
                        <dt>Retraining</dt>
                        <dd>{typeof version.decision.reason === "string" ? version.decision.reason : JSON.stringify(version.decision)}</dd>
                      </>
                    ) : null}
                  </dl>
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>

      {can(user, "models:train") && versions.length > 0 ? (
        <section className="card stack" aria-labelledby="promote">
          <h2 id="promote">Aliases</h2>
          <p className="small muted">Predictions that name no version use production (else the latest). Moving an alias takes effect at once.</p>
          <AliasForm model={model.name} versions={versions.map((version) => version.version)} aliases={model.aliases} />
        </section>
      ) : null}

      {can(user, "models:predict") && versions.length > 0 ? (
        <section className="card stack" aria-labelledby="predict">
          <h2 id="predict">Predict</h2>
          <PredictForm model={model.name} versions={versions} defaultVersion={defaultVersion} />
        </section>
      ) : null}
    </div>
  );
}
