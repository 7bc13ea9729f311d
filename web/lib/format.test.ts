import { describe, expect, it } from "vitest";

import { changeDirection, formatChange, formatValue, truncationNote } from "./format";

describe("format", () => {
  it("follows the metric's format", () => {
    expect(formatValue(21872887.61, "currency")).toBe("$21,872,888");
    expect(formatValue(1.963519, "0.00")).toBe("1.96");
    expect(formatValue(2330, "")).toBe("2,330");
    expect(formatValue(null)).toBe("—");
  });

  it("shows a change with its sign", () => {
    expect(formatChange(-7.47)).toBe("−7.47%");
    expect(formatChange(6.1)).toBe("+6.10%");
    expect(formatChange(null)).toBe("no previous period");
    expect(changeDirection(0)).toBe("flat");
  });

  it("says when a result holds only its first rows", () => {
    expect(truncationNote({ truncated: true, limit: 10000 })).toBe("showing the first 10,000 rows");
    expect(truncationNote({ truncated: false, limit: 10000 })).toBeNull();
  });
});
