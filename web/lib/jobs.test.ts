import { describe, expect, it } from "vitest";

import { anyRunning, formatTime, jobPercent, jobSubject, progressText, resultLink, stateLabel, stateTone, type Job } from "./jobs";

function job(partial: Partial<Job>): Job {
  return {
    id: "j1",
    task: "import_data",
    summary: {},
    submitted_by: "admin",
    submitted_at: "2026-11-28T19:00:00+00:00",
    state: "PENDING",
    progress: null,
    result: null,
    error: null,
    ...partial,
  };
}

describe("job progress", () => {
  it("reads the worker's percent, or works it out from done and total", () => {
    expect(jobPercent(job({ state: "PROGRESS", progress: { stage: "copy", done: 1, total: 4, percent: 25 } }))).toBe(25);
    expect(jobPercent(job({ state: "PROGRESS", progress: { stage: "copy", done: 1, total: 3 } }))).toBe(33.3);
    expect(jobPercent(job({ state: "PROGRESS", progress: { percent: 140 } }))).toBe(100);
    expect(jobPercent(job({ state: "PENDING" }))).toBeNull();
    expect(jobPercent(job({ state: "SUCCESS" }))).toBe(100);
  });

  it("words each state and stage", () => {
    expect(progressText(job({ state: "PENDING" }))).toBe("Waiting for a worker");
    expect(progressText(job({ state: "PROGRESS", progress: { stage: "copy", done: 4000, total: 10000, percent: 40 } }))).toBe(
      "Copying rows: 4,000 of 10,000 (40%)",
    );
    expect(progressText(job({ state: "PROGRESS", progress: { stage: "fit", done: 0, total: 1, percent: 0 } }))).toBe("Fitting the model: 0%");
    expect(progressText(job({ state: "PROGRESS", progress: { stage: "mystery" } }))).toBe("Mystery");
    expect(progressText(job({ state: "FAILURE", error: "sales.csv: line 3: bad" }))).toBe("Failed: sales.csv: line 3: bad");
    expect(progressText(job({ state: "SUCCESS" }))).toBe("Done");
    expect(stateLabel("PROGRESS")).toBe("Running");
    expect(stateTone("FAILURE")).toBe("down");
    expect(stateTone("STARTED")).toBe("running");
  });

  it("knows whether anything still runs", () => {
    expect(anyRunning([job({ state: "SUCCESS" }), job({ state: "FAILURE" })])).toBe(false);
    expect(anyRunning([job({ state: "SUCCESS" }), job({ state: "RETRY" })])).toBe(true);
    expect(anyRunning([])).toBe(false);
  });

  it("names what a job works on and where its result is", () => {
    const imported = job({
      state: "SUCCESS",
      summary: { dataset: "sales", filename: "sales.csv", mode: "append", rows: 1200 },
      result: { dataset: "sales", rows_imported: 1200 },
    });
    expect(jobSubject(imported)).toBe("sales.csv into sales (append, 1,200 rows)");
    expect(resultLink(imported)).toEqual({ href: "/datasets/sales", label: "1,200 rows in sales" });
    const trained = job({ task: "train_model", state: "SUCCESS", summary: { model: "churn", dataset: "c", target: "y" }, result: { model: "churn", version: 2 } });
    expect(jobSubject(trained)).toBe("model churn on c, target y");
    expect(resultLink(trained)).toEqual({ href: "/models/churn", label: "churn version 2" });
    expect(resultLink(job({ state: "FAILURE" }))).toBeNull();
  });

  it("formats times in UTC", () => {
    expect(formatTime("2026-11-28T19:05:33.123+00:00")).toBe("2026-11-28 19:05 UTC");
    expect(formatTime(null)).toBe("—");
  });
});

describe("path segments", () => {
  it("decodes, and keeps what is not valid percent-encoding", async () => {
    const { segment } = await import("./jobs");
    expect(segment("sales%5F2024")).toBe("sales_2024");
    expect(segment("%E0%A4%A")).toBe("%E0%A4%A");
  });
});
