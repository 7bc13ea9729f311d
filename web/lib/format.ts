/** Numbers as people read them, following a metric's `format` ("currency", "0.00", "percent", or none). */

export function formatValue(value: number | null | undefined, format = ""): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (format === "currency") {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 }).format(value);
  }
  if (format === "percent") {
    return new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 }).format(value);
  }
  const decimals = /^0\.(0+)$/.exec(format)?.[1]?.length;
  if (decimals !== undefined) {
    return new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(value);
  }
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: Number.isInteger(value) ? 0 : 2 }).format(value);
}

export function formatChange(changePct: number | null | undefined): string {
  if (changePct === null || changePct === undefined || !Number.isFinite(changePct)) return "no previous period";
  const sign = changePct > 0 ? "+" : changePct < 0 ? "−" : "±";
  return `${sign}${Math.abs(changePct).toFixed(2)}%`;
}

export function changeDirection(changePct: number | null | undefined): "up" | "down" | "flat" {
  if (changePct === null || changePct === undefined || changePct === 0) return "flat";
  return changePct > 0 ? "up" : "down";
}

/** What a result cut at its limit says on the page; null when nothing was cut. */
export function truncationNote(result: { truncated?: boolean; limit?: number }): string | null {
  if (!result.truncated || result.limit === undefined) return null;
  return `showing the first ${new Intl.NumberFormat("en-US").format(result.limit)} rows`;
}
