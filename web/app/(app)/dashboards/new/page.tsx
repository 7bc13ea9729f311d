import type { Metadata } from "next";

import { DashboardEditor } from "@/components/dashboard-editor";
import { ErrorNotice } from "@/components/error-notice";
import { requirePermission } from "@/lib/api";
import { dashboardToDraft } from "@/lib/dashboard-draft";
import { loadEditorData } from "@/lib/editor-data";
import { today } from "@/lib/today";

export const metadata: Metadata = { title: "New dashboard" };

export default async function NewDashboardPage() {
  await requirePermission("dashboards:write");
  const data = await loadEditorData();
  return (
    <div className="stack">
      <h1>New dashboard</h1>
      {data.ok ? (
        <DashboardEditor dashboardId={null} initial={dashboardToDraft(null)} metrics={data.value.metrics} roles={data.value.roles} today={today()} />
      ) : (
        <ErrorNotice error={data.error} />
      )}
    </div>
  );
}
