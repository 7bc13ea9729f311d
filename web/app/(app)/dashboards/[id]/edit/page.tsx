import type { Metadata } from "next";
import { notFound } from "next/navigation";

import { DashboardEditor } from "@/components/dashboard-editor";
import { ErrorNotice } from "@/components/error-notice";
import { apiGetOnce, requirePermission, settle } from "@/lib/api";
import { dashboardToDraft } from "@/lib/dashboard-draft";
import { loadEditorData } from "@/lib/editor-data";
import { isMissing } from "@/lib/problem";
import { subjectPath } from "@/lib/subject";
import { today } from "@/lib/today";
import type { Dashboard } from "@/lib/types";

export const metadata: Metadata = { title: "Edit dashboard" };

export default async function EditDashboardPage({ params }: { params: Promise<{ id: string }> }) {
  await requirePermission("dashboards:write");
  const { id } = await params;
  const [loaded, data] = await Promise.all([
    settle(apiGetOnce<Dashboard>("analytics", subjectPath("/api/v1/dashboards/", id))),
    loadEditorData(),
  ]);
  if (!loaded.ok && isMissing(loaded.error)) notFound();
  return (
    <div className="stack">
      <h1>Edit dashboard</h1>
      {!loaded.ok ? (
        <ErrorNotice error={loaded.error} />
      ) : !data.ok ? (
        <ErrorNotice error={data.error} />
      ) : (
        <DashboardEditor
          dashboardId={loaded.value.id}
          initial={dashboardToDraft(loaded.value)}
          metrics={data.value.metrics}
          roles={data.value.roles}
          today={today()}
        />
      )}
    </div>
  );
}
