import { binLabel, profileRange, type ColumnProfile } from "@/lib/datasets";

const count = new Intl.NumberFormat("en-US");

function MiniHistogram({ column }: { column: ColumnProfile }) {
  if (column.histogram.length === 0) return <span className="muted">—</span>;
  const top = Math.max(...column.histogram.map((bin) => bin.count), 1);
  const text = column.histogram.map((bin) => `${binLabel(bin)}: ${count.format(bin.count)}`).join("; ");
  return (
    <div className="mini-bars" role="img" aria-label={`Distribution of ${column.name}: ${text}`} title={text}>
      {column.histogram.map((bin, i) => (
        <span key={i} style={{ height: `${Math.max(3, (100 * bin.count) / top)}%` }} />
      ))}
    </div>
  );
}

/** Per column: nulls, distinct values, range and a small histogram (counts only for PHI). */
export function ProfileTable({ columns, rowCount }: { columns: ColumnProfile[]; rowCount: number }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Profile by column">
      <table>
        <caption className="sr-only">Profile by column</caption>
        <thead>
          <tr>
            <th scope="col">Column</th>
            <th scope="col">Type</th>
            <th scope="col" className="num">
              Nulls
            </th>
            <th scope="col" className="num">
              Distinct
            </th>
            <th scope="col">Range</th>
            <th scope="col">Distribution</th>
          </tr>
        </thead>
        <tbody>
          {columns.map((column) => (
            <tr key={column.name}>
              <th scope="row">
                {column.name} {column.phi ? <span className="badge badge-phi">PHI</span> : null}
              </th>
              <td>{column.type}</td>
              <td className="num">
                {count.format(column.nulls)}
                {rowCount > 0 && column.nulls > 0 ? <span className="muted"> ({Math.round((100 * column.nulls) / rowCount)}%)</span> : null}
              </td>
              <td className="num">{count.format(column.distinct)}</td>
              <td>{profileRange(column)}</td>
              <td>
                <MiniHistogram column={column} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
