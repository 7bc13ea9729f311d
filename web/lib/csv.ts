/** Query results as CSV (RFC 4180), safe to open in a spreadsheet. */

import type { Cell } from "./types";

// A cell starting with one of these would run as a formula in a spreadsheet.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(cell: Cell | undefined): string {
  if (cell === null || cell === undefined) return "";
  let text = typeof cell === "string" ? cell : String(cell);
  if (typeof cell === "string" && FORMULA_START.test(text) && !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: string[], rows: Cell[][]): string {
  const lines = [columns.map(csvCell).join(","), ...rows.map((row) => columns.map((_, i) => csvCell(row[i])).join(","))];
  return `${lines.join("\r\n")}\r\n`;
}

export function csvFilename(metrics: string[], grain: string, start: string, end: string): string {
  const safe = (text: string) => text.replace(/[^a-zA-Z0-9_-]+/g, "-");
  return `${safe(metrics.join("+"))}_${safe(grain)}_${safe(start)}_${safe(end)}.csv`;
}
