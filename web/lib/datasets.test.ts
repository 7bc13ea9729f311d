import { describe, expect, it } from "vitest";

import { binLabel, datasetNameProblem, formatBytes, parseFileProblem, profileRange, suggestDatasetName, uploadProgress } from "./datasets";

describe("import problems", () => {
  it("finds the line of a bad row", () => {
    const problem = parseFileProblem("broken.csv: line 3: expected 3 fields, found 4; fix the row or import with on_error=skip");
    expect(problem).toMatchObject({ file: "broken.csv", line: 3, column: null });
  });

  it("finds the column of a bad value", () => {
    const problem = parseFileProblem(
      "sales.csv.gz: column price: a value is not a valid double, the type of that column in the dataset",
    );
    expect(problem).toMatchObject({ file: "sales.csv.gz", line: null, column: "price" });
  });

  it("leaves a message without either as it is", () => {
    expect(parseFileProblem("data.csv: the file is empty")).toMatchObject({ line: null, column: null, file: "data.csv" });
    expect(parseFileProblem("dataset name 'X' must be an identifier")).toMatchObject({ file: null, line: null });
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
