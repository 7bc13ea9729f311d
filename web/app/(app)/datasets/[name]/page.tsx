import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { PreviewTable } from "@/components/datasets/preview-table";
import { ProfileButton } from "@/components/datasets/profile-button";
import { ProfileTable } from "@/components/datasets/profile-table";
import { SchemaTable } from "@/components/datasets/schema-table";
import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { api, apiGetOnce, can, requirePermission, settle } from "@/lib/api";
import { formatBytes, type DatasetDetail, type DatasetProfile, type RowsPage } from "@/lib/datasets";
import { formatTime, segment } from "@/lib/jobs";
import { ApiError, isMissing } from "@/lib/problem";
import { subjectPath } from "@/lib/subject";

type Props = { params: Promise<{ name: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Dataset ${segment((await params).name)}` };
}

const PAGE = 50;
const count = new Intl.NumberFormat("en-US");

export default async function DatasetPage({ params, searchParams }: Props) {
  const user = await requirePermission("datasets:read");
  const rawName = (await params).name;
  const name = segment(rawName);
  const rawOffset = Number((await searchParams).offset);
  const offset = Number.isInteger(rawOffset) && rawOffset > 0 ? rawOffset : 0;
  const path = subjectPath("/api/v1/datasets/", rawName);
  const detail = await settle(apiGetOnce<DatasetDetail>("analytics", path));
  if (!detail.ok) {
    if (isMissing(detail.error)) notFound();
    return (
      <div className="stack">
        <h1>Dataset {name}</h1>
        <ErrorNotice error={detail.error} title="The dataset could not be loaded" />
      </div>
    );
  }
  const dataset = detail.value;
  const [rows, profile] = await Promise.all([
    settle(api<RowsPage>("analytics", `${path}/rows`, { query: { limit: PAGE, offset } })),
    settle(api<DatasetProfile>("analytics", `${path}/profile`)),
  ]);
  const canWrite = can(user, "datasets:write");
  const canRunJobs = can(user, "jobs:run");
  const here = `/datasets/${encodeURIComponent(name)}`;

  return (
    <div className="stack">
      <p className="small">
        <Link href="/datasets">← Datasets</Link>
      </p>
      <div className="spread">
        <h1>Dataset {dataset.name}</h1>
        {canWrite ? (
          <Link href={`/datasets/upload?into=${encodeURIComponent(dataset.name)}`} className="button">
            Upload more rows
          </Link>
        ) : null}
      </div>
      {dataset.description ? <p>{dataset.description}</p> : null}
      <dl className="kv card">
        <dt>Rows</dt>
        <dd data-testid="dataset-rows">{count.format(dataset.row_count)}</dd>
        <dt>Data version</dt>
        <dd>{dataset.data_version}</dd>
        <dt>Columns</dt>
        <dd>{dataset.columns.length}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(dataset.updated_at)}</dd>
      </dl>

      <section className="card stack" aria-labelledby="schema">
        <h2 id="schema">Schema</h2>
        <SchemaTable dataset={dataset.name} columns={dataset.columns} canEdit={canWrite} canEditPhi={canWrite && can(user, "phi:read")} />
      </section>

      <section className="card stack" aria-labelledby="preview">
        <h2 id="preview">Rows</h2>
        {!rows.ok ? (
          <ErrorNotice error={rows.error} title="The rows could not be loaded" />
        ) : rows.value.rows.length === 0 ? (
          <EmptyState>{offset > 0 ? "No rows on this page." : "This dataset has no rows you may see."}</EmptyState>
        ) : (
          <>
            {rows.value.masked.length > 0 ? (
              <p className="notice notice-warn small">
                Columns {rows.value.masked.join(", ")} hold PHI and are masked: your roles lack the permission phi:read.
              </p>
            ) : null}
            <PreviewTable columns={rows.value.columns} rows={rows.value.rows} masked={rows.value.masked} caption={`Rows of ${dataset.name}`} />
            <nav className="spread small" aria-label="Rows pages">
              <span data-testid="preview-range">
                Rows {count.format(offset + 1)}–{count.format(offset + rows.value.rows.length)} of {count.format(rows.value.total)}
              </span>
              <span className="row">
                {offset > 0 ? (
                  <Link className="button button-small" href={`${here}?offset=${Math.max(0, offset - PAGE)}#preview`}>
                    Previous rows
                  </Link>
                ) : null}
                {offset + PAGE < rows.value.total ? (
                  <Link className="button button-small" href={`${here}?offset=${offset + PAGE}#preview`}>
                    Next rows
                  </Link>
                ) : null}
              </span>
            </nav>
          </>
        )}
      </section>

      <section className="card stack" aria-labelledby="profile">
        <h2 id="profile">Profile</h2>
        {profile.ok ? (
          <>
            <p className="small muted">
              Computed {formatTime(profile.value.computed_at)} on data version {profile.value.data_version} ({count.format(profile.value.row_count)} rows).
            </p>
            {profile.value.stale ? (
              <p className="notice notice-warn small">Newer data has arrived since this profile was computed.</p>
            ) : null}
            <ProfileTable columns={profile.value.columns} rowCount={profile.value.row_count} />
            {profile.value.stale && canRunJobs ? <ProfileButton dataset={dataset.name} label="Compute it again" /> : null}
          </>
        ) : profile.error instanceof ApiError && profile.error.status === 404 ? (
          <>
            <EmptyState>No profile yet.</EmptyState>
            {canRunJobs ? <ProfileButton dataset={dataset.name} /> : null}
          </>
        ) : (
          <ErrorNotice error={profile.error} title="The profile could not be loaded" />
        )}
      </section>

      <section className="card stack" aria-labelledby="imports">
        <h2 id="imports">Imports</h2>
        {dataset.imports.length === 0 ? (
          <EmptyState>No imports recorded.</EmptyState>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Imports">
            <table>
              <caption className="sr-only">Imports, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Finished</th>
                  <th scope="col">File</th>
                  <th scope="col">Mode</th>
                  <th scope="col" className="num">
                    Rows
                  </th>
                  <th scope="col" className="num">
                    Skipped
                  </th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                {dataset.imports.map((item) => (
                  <tr key={item.id}>
                    <td>{formatTime(item.finished_at)}</td>
                    <td>{item.filename}</td>
                    <td>{item.mode}</td>
                    <td className="num">{count.format(item.rows_imported)}</td>
                    <td className="num" title={item.skipped_sample?.map((s) => `line ${s.line ?? "?"}: ${s.reason}`).join("\n")}>
                      {count.format(item.rows_skipped)}
                    </td>
                    <td className="num">{formatBytes(item.size_bytes)}</td>
                    <td>{item.imported_by ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
