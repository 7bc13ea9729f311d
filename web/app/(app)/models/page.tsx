import type { Metadata } from "next";
import Link from "next/link";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { api, can, requirePermission, settle } from "@/lib/api";
import { formatTime } from "@/lib/jobs";
import { headlineMetric, type ModelSummary } from "@/lib/models";
import type { Page } from "@/lib/types";

export const metadata: Metadata = { title: "Models" };

export default async function ModelsPage() {
  const user = await requirePermission("models:read");
  const list = await settle(api<Page<ModelSummary>>("ml", "/api/v1/models", { query: { limit: 500 } }));
  return (
    <div className="stack">
      <div className="spread">
        <h1>Models</h1>
        <div className="row">
          {can(user, "queries:run") ? (
            <Link href="/models/forecast" className="button">
              Forecast a metric
            </Link>
          ) : null}
          {can(user, "models:train") ? (
            <Link href="/models/train" className="button button-primary">
              Train a model
            </Link>
          ) : null}
        </div>
      </div>
      {!list.ok ? (
        <ErrorNotice error={list.error} title="The models could not be loaded" />
      ) : list.value.items.length === 0 ? (
        <EmptyState>No models yet.{can(user, "models:train") ? " Train one on a dataset." : ""}</EmptyState>
      ) : (
        <div className="card table-wrap" tabIndex={0} role="region" aria-label="Models">
          <table className="stack-table">
            <caption className="sr-only">Models, {list.value.total} in all</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Task</th>
                <th scope="col">Target</th>
                <th scope="col">Dataset</th>
                <th scope="col" className="num">
                  Latest
                </th>
                <th scope="col">Aliases</th>
                <th scope="col">Latest version&apos;s score</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.value.items.map((model) => (
                <tr key={model.name}>
                  <th scope="row">
                    <Link href={`/models/${encodeURIComponent(model.name)}`}>{model.name}</Link>
                  </th>
                  <td data-label="Task">{model.task}</td>
                  <td data-label="Target">{model.target}</td>
                  <td data-label="Dataset">{model.dataset ?? "—"}</td>
                  <td data-label="Latest" className="num">{model.latest_version ?? "—"}</td>
                  <td data-label="Aliases">
                    {Object.entries(model.aliases).length === 0
                      ? "—"
                      : Object.entries(model.aliases)
                          .map(([alias, version]) => `${alias} → v${version}`)
                          .join(", ")}
                  </td>
                  <td data-label="Score">{headlineMetric(model.metrics)}</td>
                  <td data-label="Updated">{formatTime(model.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
