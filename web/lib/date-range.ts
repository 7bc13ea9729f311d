/** Date ranges for queries: presets relative to a day, or explicit start (included) and end (excluded). */

export type RangePreset = "saved" | "last_30_days" | "last_90_days" | "last_12_months" | "year_to_date" | "custom";

export const RANGE_PRESETS: { value: RangePreset; label: string }[] = [
  { value: "saved", label: "As saved" },
  { value: "last_30_days", label: "Last 30 days" },
  { value: "last_90_days", label: "Last 90 days" },
  { value: "last_12_months", label: "Last 12 months" },
  { value: "year_to_date", label: "Year to date" },
  { value: "custom", label: "Custom" },
];

export interface DateRange {
  start: string;
  end: string;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isIsoDate(text: string): boolean {
  if (!ISO_DATE.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

export function addMonths(day: string, months: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return isoDay(target);
}

export function isPreset(value: string | undefined): value is RangePreset {
  return RANGE_PRESETS.some((preset) => preset.value === value);
}

/** The range a preset means on `today` (the end is the day after today); null for "saved" and a bad custom. */
export function resolveRange(preset: RangePreset, today: string, start?: string, end?: string): DateRange | null {
  const tomorrow = addDays(today, 1);
  switch (preset) {
    case "saved":
      return null;
    case "last_30_days":
      return { start: addDays(tomorrow, -30), end: tomorrow };
    case "last_90_days":
      return { start: addDays(tomorrow, -90), end: tomorrow };
    case "last_12_months":
      return { start: addMonths(tomorrow, -12), end: tomorrow };
    case "year_to_date":
      return { start: `${today.slice(0, 4)}-01-01`, end: tomorrow };
    case "custom":
      return start && end && isIsoDate(start) && isIsoDate(end) && start < end ? { start, end } : null;
  }
}

/** Why a custom range cannot be used, in words; null when it can. */
export function rangeProblem(start: string, end: string): string | null {
  if (!isIsoDate(start)) return "Start must be a date (YYYY-MM-DD).";
  if (!isIsoDate(end)) return "End must be a date (YYYY-MM-DD).";
  if (start >= end) return "End must be after start (start is included, end is not).";
  return null;
}
