/** A labelled progress bar; without a percent it shows that work goes on without saying how far. */
export function ProgressBar({ percent, label }: { percent: number | null; label: string }) {
  const known = percent !== null;
  return (
    <div
      className={known ? "bar" : "bar bar-indeterminate"}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={known ? percent : undefined}
      aria-valuetext={known ? `${percent}%` : "in progress"}
    >
      <span style={{ width: `${known ? percent : 30}%` }} />
    </div>
  );
}

export function StateBadge({ state, label }: { state: "ok" | "down" | "running"; label: string }) {
  return <span className={`badge badge-${state}`}>{label}</span>;
}
