import type { Cell } from "@/lib/types";

function show(cell: Cell | undefined): string {
  if (cell === null || cell === undefined) return "—";
  if (typeof cell === "number") return new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 }).format(cell);
  return String(cell);
}

/** Rows of a dataset; a column the reader may not see (PHI without phi:read) is marked, its cells say "masked". */
export function PreviewTable({ columns, rows, masked, caption }: { columns: string[]; rows: Cell[][]; masked: string[]; caption: string }) {
  const hidden = new Set(masked);
  const numeric = columns.map((_, i) => rows.some((row) => typeof row[i] === "number"));
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table data-testid="preview-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column, i) => (
              <th key={column} scope="col" className={numeric[i] ? "num" : undefined}>
                {column}
                {hidden.has(column) ? (
                  <>
                    {" "}
                    <span className="badge badge-phi" title="PHI: hidden without the permission phi:read">
                      masked
                    </span>
                  </>
                ) : null}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={index}>
              {columns.map((column, i) =>
                hidden.has(column) ? (
                  <td key={column} className="masked">
                    masked
                  </td>
                ) : (
                  <td key={column} className={numeric[i] ? "num" : undefined}>
                    {show(row[i])}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
