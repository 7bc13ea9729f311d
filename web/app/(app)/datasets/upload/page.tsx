import type { Metadata } from "next";
import Link from "next/link";

import { UploadForm } from "@/components/datasets/upload-form";
import { ErrorNotice } from "@/components/error-notice";
import { api, requirePermission, settle } from "@/lib/api";
import type { DatasetSummary } from "@/lib/datasets";
import type { Page } from "@/lib/types";

export const metadata: Metadata = { title: "Upload a file" };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

export default async function UploadPage({ searchParams }: Props) {
  await requirePermission("datasets:write");
  const into = (await searchParams).into;
  const list = await settle(api<Page<DatasetSummary>>("analytics", "/api/v1/datasets", { query: { limit: 500 } }));
  return (
    <div className="stack">
      <p className="small">
        <Link href="/datasets">← Datasets</Link>
      </p>
      <h1>Upload a file</h1>
      {!list.ok ? <ErrorNotice error={list.error} title="The existing datasets could not be listed" /> : null}
      <UploadForm
        datasets={list.ok ? list.value.items.map((dataset) => dataset.name) : []}
        initialName={typeof into === "string" ? into : ""}
      />
    </div>
  );
}
