import type { Metadata } from "next";
import Link from "next/link";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { AUDIT_PAGE, OUTCOMES, auditFilters, auditPageHref, auditQuery, type AuditList, type AuditRecord } from "@/lib/admin";
import { api, requirePermission, settle } from "@/lib/api";
import { formatTime } from "@/lib/jobs";

import { AdminNav } from "../admin-nav";

export const metadata: Metadata = { title: "Audit log" };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function details(record: AuditRecord): string {
  const entries = Object.entries(record.details ?? {}).filter(([, value]) => value !== null && value !== undefined);
  return entries.map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join("; ");
}

export default async function AuditPage({ searchParams }: Props) {
  const me = await requirePermission("audit:read");
  const filters = auditFilters(await searchParams);
  const records = await settle(api<AuditList>("analytics", "/api/v1/audit", { query: auditQuery(filters) }));
  const count = new Intl.NumberFormat("en-US");
  return (
    <div className="stack">
      <AdminNav user={me} current="audit" />
      <h1>Audit log</h1>
      <form method="get" action="/admin/audit" className="card stack" aria-label="Filter the audit log">
        <div className="form-grid">
          <label className="field">
            <span>User (name or id)</span>
            <input name="user" defaultValue={filters.user} maxLength={128} />
          </label>
          <label className="field">
            <span>Action</span>
            <input name="action" defaultValue={filters.action} maxLength={63} placeholder="e.g. auth.login, query" list="audit-actions" />
            <datalist id="audit-actions">
              {["auth.login", "auth.logout", "query", "dataset.rows", "dataset.profile", "user.create", "user.update", "user.roles", "role.create", "audit.read", "forecast", "model.train"].map((action) => (
                <option key={action} value={action} />
              ))}
            </datalist>
          </label>
          <label className="field">
            <span>Dataset</span>
            <input name="dataset" defaultValue={filters.dataset} maxLength={63} />
          </label>
          <label className="field">
            <span>Outcome</span>
            <select name="outcome" defaultValue={filters.outcome}>
              <option value="">Any</option>
              {OUTCOMES.map((outcome) => (
                <option key={outcome} value={outcome}>
                  {outcome}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>PHI</span>
            <select name="phi" defaultValue={filters.phi}>
              <option value="">Any</option>
              <option value="true">Touched PHI</option>
              <option value="false">No PHI</option>
            </select>
          </label>
          <label className="field">
            <span>From (UTC)</span>
            <input name="since" type="date" defaultValue={filters.since.slice(0, 10)} />
          </label>
          <label className="field">
            <span>Before (UTC)</span>
            <input name="until" type="date" defaultValue={filters.until.slice(0, 10)} />
          </label>
        </div>
        <div className="row">
          <button type="submit" className="button button-primary">
            Filter
          </button>
          <Link href="/admin/audit" className="button">
            Clear
          </Link>
        </div>
      </form>
      {!records.ok ? (
        <ErrorNotice error={records.error} title="The audit log could not be loaded" />
      ) : records.value.items.length === 0 ? (
        <EmptyState>No records match these filters.</EmptyState>
      ) : (
        <section className="card stack" aria-labelledby="audit-records">
          <h2 id="audit-records" className="sr-only">
            Records
          </h2>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Audit records">
            <table className="stack-table" data-testid="audit-table">
              <caption className="sr-only">Audit records, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">User</th>
                  <th scope="col">Action</th>
                  <th scope="col">Outcome</th>
                  <th scope="col" className="wrap">
                    Resource
                  </th>
                  <th scope="col">Dataset</th>
                  <th scope="col">PHI</th>
                  <th scope="col" className="wrap">
                    Details
                  </th>
                </tr>
              </thead>
              <tbody>
                {records.value.items.map((record) => (
                  <tr key={record.id}>
                    <td data-label="When">{formatTime(record.occurred_at)}</td>
                    <td data-label="User">{record.username ?? "—"}</td>
                    <td data-label="Action">
                      <code>{record.action}</code>
                    </td>
                    <td data-label="Outcome">
                      <span className={record.outcome === "success" ? "badge badge-ok" : "badge badge-down"}>{record.outcome}</span>
                    </td>
                    <td data-label="Resource" className="wrap small">{record.resource ?? "—"}</td>
                    <td data-label="Dataset">{record.dataset ?? "—"}</td>
                    <td data-label="PHI">
                      {record.phi ? <span className="badge badge-phi">PHI{record.columns.length ? `: ${record.columns.join(", ")}` : ""}</span> : "—"}
                      {record.purpose ? <div className="small muted">{record.purpose}</div> : null}
                    </td>
                    <td data-label="Details" className="wrap small">{details(record) || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="spread small" aria-label="Audit pages">
            <span>
              Records {count.format(filters.offset + 1)}–{count.format(filters.offset + records.value.items.length)} of{" "}
              {count.format(records.value.total)}
            </span>
            <span className="row">
              {filters.offset > 0 ? (
                <Link className="button button-small" href={auditPageHref(filters, Math.max(0, filters.offset - AUDIT_PAGE))}>
                  Newer
                </Link>
              ) : null}
              {filters.offset + AUDIT_PAGE < records.value.total ? (
                <Link className="button button-small" href={auditPageHref(filters, filters.offset + AUDIT_PAGE)}>
                  Older
                </Link>
              ) : null}
            </span>
          </nav>
        </section>
      )}
    </div>
  );
}
