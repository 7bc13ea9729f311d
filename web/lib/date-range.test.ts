import { describe, expect, it } from "vitest";

import { addMonths, isIsoDate, rangeProblem, resolveRange } from "./date-range";

describe("date ranges", () => {
  it("resolves presets up to and including today", () => {
    expect(resolveRange("last_30_days", "2026-03-10")).toEqual({ start: "2026-02-09", end: "2026-03-11" });
    expect(resolveRange("year_to_date", "2026-03-10")).toEqual({ start: "2026-01-01", end: "2026-03-11" });
    expect(resolveRange("last_12_months", "2026-03-10")).toEqual({ start: "2025-03-11", end: "2026-03-11" });
    expect(resolveRange("saved", "2026-03-10")).toBeNull();
  });

  it("takes a custom range only when it is valid", () => {
    expect(resolveRange("custom", "2026-03-10", "2025-01-01", "2025-02-01")).toEqual({ start: "2025-01-01", end: "2025-02-01" });
    expect(resolveRange("custom", "2026-03-10", "2025-02-01", "2025-01-01")).toBeNull();
    expect(rangeProblem("2025-02-30", "2025-03-01")).toBe("Start must be a date (YYYY-MM-DD).");
    expect(rangeProblem("2025-02-01", "2025-02-01")).toContain("End must be after start");
  });

  it("clamps month arithmetic to the month's end", () => {
    expect(addMonths("2025-03-31", -1)).toBe("2025-02-28");
    expect(isIsoDate("2024-02-29")).toBe(true);
  });
});
