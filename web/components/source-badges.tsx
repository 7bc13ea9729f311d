import { truncationNote } from "@/lib/format";
import type { QueryResult } from "@/lib/types";

/** Where an answer came from: the daily rollup or the table, whether from the cache, and
 * whether it holds only the first rows of a larger result. */
export function SourceBadges({
  result,
}: {
  result: Pick<QueryResult, "source" | "cached" | "data_version" | "truncated" | "limit">;
}) {
  const note = truncationNote(result);
  return (
    <p className="row small" aria-label="Answer source">
      {note ? (
        <span className="badge badge-warn" role="status" data-testid="answer-truncated">
          {note}
        </span>
      ) : null}
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
