import type { Metadata } from "next";
import Link from "next/link";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { api, can, requirePermission, settle } from "@/lib/api";
import type { DatasetSummary } from "@/lib/datasets";
import { formatTime } from "@/lib/jobs";
import type { Page } from "@/lib/types";

export const metadata: Metadata = { title: "Datasets" };

const count = new Intl.NumberFormat("en-US");

export default async function DatasetsPage() {
  const user = await requirePermission("datasets:read");
  const list = await settle(api<Page<DatasetSummary>>("analytics", "/api/v1/datasets", { query: { limit: 500 } }));
  return (
    <div className="stack">
      <div className="spread">
        <h1>Datasets</h1>
        {can(user, "datasets:write") ? (
          <Link href="/datasets/upload" className="button button-primary">
            Upload a file
          </Link>
        ) : null}
      </div>
      {!list.ok ? (
        <ErrorNotice error={list.error} title="The datasets could not be loaded" />
      ) : list.value.items.length === 0 ? (
        <EmptyState>No datasets yet.{can(user, "datasets:write") ? " Upload a file to create one." : ""}</EmptyState>
      ) : (
        <div className="card table-wrap" tabIndex={0} role="region" aria-label="Datasets">
          <table className="stack-table">
            <caption className="sr-only">Datasets, {list.value.total} in all</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Rows
                </th>
                <th scope="col" className="num">
                  Version
                </th>
                <th scope="col">Updated</th>
                <th scope="col" className="wrap">
                  Description
                </th>
              </tr>
            </thead>
            <tbody>
              {list.value.items.map((dataset) => (
                <tr key={dataset.name}>
                  <th scope="row">
                    <Link href={`/datasets/${encodeURIComponent(dataset.name)}`}>{dataset.name}</Link>
                  </th>
                  <td data-label="Rows" className="num">{count.format(dataset.row_count)}</td>
                  <td data-label="Version" className="num">{dataset.data_version}</td>
                  <td data-label="Updated">{formatTime(dataset.updated_at)}</td>
                  <td data-label="Description" className="wrap muted">{dataset.description || "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
