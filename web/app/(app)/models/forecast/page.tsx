import type { Metadata } from "next";
import Link from "next/link";

import { ErrorNotice } from "@/components/error-notice";
import { ForecastPanel } from "@/components/models/forecast-panel";
import { api, requirePermission, settle } from "@/lib/api";
import type { Metric, Page } from "@/lib/types";

export const metadata: Metadata = { title: "Forecast" };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

export default async function ForecastPage({ searchParams }: Props) {
  await requirePermission("queries:run");
  const wanted = (await searchParams).metric;
  const list = await settle(api<Page<Metric>>("analytics", "/api/v1/metrics", { query: { limit: 500 } }));
  return (
    <div className="stack">
      <p className="small">
        <Link href="/models">← Models</Link>
      </p>
      <h1>Forecast a metric</h1>
      <p className="small muted">
        Future values from the metric&apos;s complete periods, with a prediction interval, and a backtest of the model on its latest
        periods beside the naive forecasts.
      </p>
      {!list.ok ? (
        <ErrorNotice error={list.error} title="The metrics could not be listed" />
      ) : (
        <ForecastPanel metrics={list.value.items} initialMetric={typeof wanted === "string" ? wanted : undefined} />
      )}
    </div>
  );
}
