import { describe, expect, it } from "vitest";

import { csvFilename, toCsv } from "./csv";

describe("toCsv", () => {
  it("quotes what needs quoting and leaves nulls empty", () => {
    expect(toCsv(["a", "b"], [["x,y", null], ['say "hi"', 3]])).toBe('a,b\r\n"x,y",\r\n"say ""hi""",3\r\n');
  });

  it("defuses spreadsheet formulas but keeps negative numbers", () => {
    expect(toCsv(["a"], [["=SUM(A1)"], ["-12.5"], [-3]])).toBe("a\r\n'=SUM(A1)\r\n-12.5\r\n-3\r\n");
  });

  it("names the file after the question", () => {
    expect(csvFilename(["visits", "total charges"], "month", "2025-01-01", "2026-01-01")).toBe(
      "visits-total-charges_month_2025-01-01_2026-01-01.csv",
    );
  });
});
