import type { Metadata } from "next";
import Link from "next/link";

import { ErrorNotice } from "@/components/error-notice";
import { TrainForm } from "@/components/models/train-form";
import { api, requirePermission, settle } from "@/lib/api";
import type { DatasetSummary } from "@/lib/datasets";
import { TASKS, type Task } from "@/lib/models";
import type { Page } from "@/lib/types";

export const metadata: Metadata = { title: "Train a model" };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function text(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.trim() !== "" ? first.trim() : undefined;
}

export default async function TrainPage({ searchParams }: Props) {
  await requirePermission("models:train");
  const params = await searchParams;
  const list = await settle(api<Page<DatasetSummary>>("analytics", "/api/v1/datasets", { query: { limit: 500 } }));
  const task = text(params.task);
  const model = text(params.model);
  const features = text(params.features)?.split(",").filter(Boolean);
  return (
    <div className="stack">
      <p className="small">
        <Link href="/models">← Models</Link>
      </p>
      <h1>{model ? `Train a new version of ${model}` : "Train a model"}</h1>
      <p className="small muted">
        The model is scored on held-out rows beside a baseline (the majority class or the mean), so you can see whether it adds
        anything.
      </p>
      {!list.ok ? <ErrorNotice error={list.error} title="The datasets could not be listed" /> : null}
      <TrainForm
        datasets={list.ok ? list.value.items.map((item) => item.name) : []}
        fixedModel={Boolean(model)}
        defaults={{
          model,
          dataset: text(params.dataset),
          target: text(params.target),
          task: TASKS.includes(task as Task) ? (task as Task) : undefined,
          features,
          algorithm: text(params.algorithm),
        }}
      />
    </div>
  );
}
