import type { QueryResult } from "@/lib/types";

/** Where an answer came from: the daily rollup or the table, and whether from the cache. */
export function SourceBadges({ result }: { result: Pick<QueryResult, "source" | "cached" | "data_version"> }) {
  return (
    <p className="row small" aria-label="Answer source">
      <span className="badge" data-testid="answer-source">
        from the {result.source}
      </span>
      <span className="badge" data-testid="answer-cached">
        {result.cached ? "cached" : "not cached"}
      </span>
      <span className="muted">data version {result.data_version}</span>
    </p>
  );
}
