import { describe, expect, it } from "vitest";

import { binLabel, datasetNameProblem, fileProblem, formatBytes, profileRange, suggestDatasetName, uploadProgress } from "./datasets";
import { toProblem } from "./problem";

describe("import problems", () => {
  const refusal = (item: Record<string, unknown>) =>
    toProblem(422, { type: "about:blank", title: "Invalid input", status: 422, detail: "d", errors: [{ loc: ["file"], ...item }] });

  it("reads the line of a bad row from the error item", () => {
    const problem = refusal({ msg: "line 3: expected 3 fields, found 4; fix the row or import with on_error=skip", file: "broken.csv", line: 3 });
    expect(fileProblem(problem)).toEqual({ file: "broken.csv", line: 3, column: null });
  });

  it("reads the column of a bad value from the error item, not from its words", () => {
    const problem = refusal({ msg: "line 7: a value is not a valid double (columns a and b)", file: "sales.csv.gz", column: "price" });
    expect(fileProblem(problem)).toEqual({ file: "sales.csv.gz", line: null, column: "price" });
  });

  it("has nothing to point at without an item about the file", () => {
    expect(fileProblem(refusal({ msg: "the file is empty", file: "data.csv" }))).toEqual({ file: "data.csv", line: null, column: null });
    expect(fileProblem(toProblem(422, { detail: "dataset name 'X' must be an identifier", errors: [{ loc: ["body", "name"], msg: "bad" }] }))).toBeNull();
  });
});

describe("upload progress", () => {
  it("gives the share sent", () => {
    expect(uploadProgress(50, 200)).toEqual({ loaded: 50, total: 200, percent: 25 });
    expect(uploadProgress(200, 200).percent).toBe(100);
    expect(uploadProgress(10, 0).percent).toBeNull();
    expect(uploadProgress(10, 100, false).percent).toBeNull();
  });

  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(20 * 1024 * 1024)).toBe("20 MB");
  });
});

describe("dataset names", () => {
  it("accepts identifiers only", () => {
    expect(datasetNameProblem("sales_2024")).toBeNull();
    expect(datasetNameProblem("")).toMatch(/name/);
    expect(datasetNameProblem("Sales")).toMatch(/lowercase/);
    expect(datasetNameProblem("_x")).toMatch(/lowercase/);
  });

  it("suggests one from a file name", () => {
    expect(suggestDatasetName("Sales 2024.csv")).toBe("sales_2024");
    expect(suggestDatasetName("2024-visits.csv.gz")).toBe("d_2024_visits");
    expect(suggestDatasetName("events.jsonl")).toBe("events");
    expect(datasetNameProblem(suggestDatasetName("###.csv"))).toBeNull();
  });
});

describe("profiles", () => {
  it("shows ranges, and nothing of PHI", () => {
    const base = { name: "a", type: "bigint", role: "measure" as const, nulls: 0, distinct: 3, histogram: [] };
    expect(profileRange({ ...base, phi: false, min: 1, max: 2500 })).toBe("1 – 2,500");
    expect(profileRange({ ...base, phi: true })).toBe("PHI: counts only");
    expect(profileRange({ ...base, phi: false, min: null, max: null })).toBe("no values");
    expect(binLabel({ from: 0, to: 2.5, count: 3 })).toBe("0–2.5");
    expect(binLabel({ month: "2026-01-01", count: 3 })).toBe("2026-01");
    expect(binLabel({ value: null, count: 3 })).toBe("(null)");
  });
});
