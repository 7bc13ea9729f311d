import type { Cell } from "@/lib/types";

function isNumeric(cell: Cell | undefined): boolean {
  return typeof cell === "number";
}

function show(cell: Cell | undefined): string {
  if (cell === null || cell === undefined) return "—";
  if (typeof cell === "number") return new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(cell);
  return String(cell);
}

/** Rows of a query or a preview, scrolling sideways on a narrow screen. */
export function ResultTable({ columns, rows, caption, limit = 500 }: { columns: string[]; rows: Cell[][]; caption: string; limit?: number }) {
  const shown = rows.slice(0, limit);
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col" className={isNumeric(rows[0]?.[columns.indexOf(column)]) ? "num" : undefined}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row, index) => (
            <tr key={index}>
              {columns.map((column, i) => (
                <td key={column} className={isNumeric(row[i]) ? "num" : undefined}>
                  {show(row[i])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > limit ? (
        <p className="small muted">
          Showing {limit} of {rows.length} rows; download the CSV for all of them.
        </p>
      ) : null}
    </div>
  );
}
