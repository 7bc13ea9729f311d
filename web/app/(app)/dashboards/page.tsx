import type { Metadata } from "next";
import Link from "next/link";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { api, can, currentUser, requirePermission, settle } from "@/lib/api";
import type { DashboardList } from "@/lib/types";

export const metadata: Metadata = { title: "Dashboards" };

export default async function DashboardsPage() {
  await requirePermission("dashboards:read");
  const user = await currentUser();
  const list = await settle(api<DashboardList>("analytics", "/api/v1/dashboards", { query: { limit: 200 } }));
  return (
    <div className="stack">
      <div className="spread">
        <h1>Dashboards</h1>
        {can(user, "dashboards:write") ? (
          <Link href="/dashboards/new" className="button button-primary">
            New dashboard
          </Link>
        ) : null}
      </div>
      {!list.ok ? (
        <ErrorNotice error={list.error} />
      ) : list.value.items.length === 0 ? (
        <EmptyState>No dashboards yet.</EmptyState>
      ) : (
        <ul className="cards" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {list.value.items.map((dashboard) => (
            <li key={dashboard.id} className="card stack">
              <h2>
                <Link href={`/dashboards/${dashboard.id}`}>{dashboard.name}</Link>
              </h2>
              {dashboard.description ? <p className="small">{dashboard.description}</p> : null}
              <p className="small muted">
                {dashboard.tiles.length} tile{dashboard.tiles.length === 1 ? "" : "s"}
                {dashboard.owner ? ` · by ${dashboard.owner.username}` : ""}
                {dashboard.shared_with_roles.length ? ` · shared with ${dashboard.shared_with_roles.join(", ")}` : ""}
              </p>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
