import { changeDirection, formatChange, formatValue } from "@/lib/format";

export interface KpiCardProps {
  title: string;
  value: number | null;
  previous: number | null;
  changePct: number | null;
  period: string | null;
  previousPeriod: string | null;
  format?: string;
  suppressed?: boolean;
  testId?: string;
}

/** One number, its change against the period before, and which period it is. */
export function KpiCard({ title, value, previous, changePct, period, previousPeriod, format = "", suppressed, testId }: KpiCardProps) {
  const direction = changeDirection(changePct);
  return (
    <article className="card stack kpi" data-testid={testId} aria-label={title}>
      <h3>{title}</h3>
      <div className="kpi-value" data-testid={testId ? `${testId}-value` : undefined} data-value={value ?? "none"}>
        {suppressed ? "suppressed" : formatValue(value, format)}
      </div>
      <div className="small">
        <span
          className={direction === "up" ? "change-up" : direction === "down" ? "change-down" : "muted"}
          data-testid={testId ? `${testId}-change` : undefined}
          data-value={changePct ?? "none"}
        >
          {direction === "up" ? "▲ " : direction === "down" ? "▼ " : ""}
          {formatChange(changePct)}
        </span>{" "}
        {previousPeriod ? (
          <span className="muted">
            vs {formatValue(previous, format)} in {previousPeriod}
          </span>
        ) : null}
      </div>
      <div className="small muted" data-testid={testId ? `${testId}-period` : undefined}>
        {period ? `Period of ${period}` : "No data in this range"}
      </div>
    </article>
  );
}
