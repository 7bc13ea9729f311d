import { describe, expect, it } from "vitest";

import { toProblem } from "./problem";
import { buildRecord, headlineMetric, isQueued, metricRows, parseFeatureValue, predictProblems, predictionRows, type Feature } from "./models";

describe("feature values", () => {
  it("types numbers, booleans and text", () => {
    expect(parseFeatureValue("number", " 42 ")).toEqual({ value: 42, note: null });
    expect(parseFeatureValue("number", "-1.5e3")).toEqual({ value: -1500, note: null });
    expect(parseFeatureValue("number", "1,234.5")).toEqual({ value: 1234.5, note: null });
    expect(parseFeatureValue("boolean", "Yes")).toEqual({ value: true, note: null });
    expect(parseFeatureValue("boolean", "false")).toEqual({ value: false, note: null });
    expect(parseFeatureValue("text", "basic")).toEqual({ value: "basic", note: null });
  });

  it("makes an empty field a missing value", () => {
    expect(parseFeatureValue("number", "  ")).toEqual({ value: null, note: null });
    expect(parseFeatureValue("text", "")).toEqual({ value: null, note: null });
  });

  it("keeps a wrong type as text for the service to name, with a warning", () => {
    expect(parseFeatureValue("number", "forty")).toEqual({ value: "forty", note: "is not a number" });
    expect(parseFeatureValue("number", "1.2.3").note).toBe("is not a number");
    expect(parseFeatureValue("boolean", "maybe")).toEqual({ value: "maybe", note: "is not true or false" });
  });

  it("builds one record with every feature", () => {
    const features: Feature[] = [
      { name: "age", type: "number" },
      { name: "plan", type: "text" },
      { name: "active", type: "boolean" },
    ];
    expect(buildRecord(features, { age: "abc", plan: "basic" })).toEqual({
      record: { age: "abc", plan: "basic", active: null },
      notes: [{ feature: "age", message: "age is not a number" }],
    });
  });
});

describe("predict problems", () => {
  it("lists each wrong field of the service's 422", () => {
    const problem = toProblem(422, {
      title: "Invalid input",
      status: 422,
      detail:
        "input for model churn: missing features tenure; feature age expects a number (or null) but has another type in records[0]",
      errors: [],
    });
    expect(predictProblems(problem)).toEqual([
      { feature: "tenure", message: "Missing features tenure" },
      { feature: "age", message: "Feature age expects a number (or null) but has another type in records[0]" },
    ]);
  });

  it("reads the service's itemised errors, one per feature", () => {
    const problem = toProblem(422, {
      detail: "input for model churn: missing features tenure; feature age expects ...",
      errors: [
        { loc: ["features", "tenure"], msg: "missing feature tenure" },
        { loc: ["features", "age"], msg: "feature age expects a number (or null) but has another type in records[0]", rows: [0] },
      ],
    });
    expect(predictProblems(problem)).toEqual([
      { feature: "tenure", message: "Missing feature tenure" },
      { feature: "age", message: "Feature age expects a number (or null) but has another type in records[0]" },
    ]);
  });

  it("reads FastAPI's field errors too", () => {
    const problem = toProblem(422, { detail: [{ loc: ["body", "records", 0], msg: "bad" }] });
    expect(predictProblems(problem)).toEqual([{ feature: "records[0]", message: "records[0]: bad" }]);
  });
});

describe("metrics", () => {
  it("puts each metric beside the baseline, knowing which way is better", () => {
    const rows = metricRows({ rmse: 2, mae: 3, r2: 0.5, baseline: { rmse: 4, mae: 2, r2: 0 } });
    expect(rows).toEqual([
      { key: "rmse", label: "RMSE", value: 2, baseline: 4, better: true },
      { key: "mae", label: "MAE", value: 3, baseline: 2, better: false },
      { key: "r2", label: "R²", value: 0.5, baseline: 0, better: true },
    ]);
    expect(metricRows(null)).toEqual([]);
    expect(headlineMetric({ accuracy: 0.9, roc_auc: 0.95, baseline: { accuracy: 0.6, roc_auc: 0.5 } })).toBe("ROC AUC 0.95 (baseline 0.5)");
  });

  it("tells a queued training from a finished one", () => {
    expect(isQueued({ job_id: "x", model: "m", status_url: "/api/v1/jobs/x" })).toBe(true);
  });

  it("words predictions with each class's probability, most likely first", () => {
    expect(predictionRows({ model: "m", version: 1, predictions: ["yes"], classes: ["no", "yes"], probabilities: [[0.2, 0.8]] })).toEqual([
      { prediction: "yes", probabilities: [{ label: "yes", value: 0.8 }, { label: "no", value: 0.2 }] },
    ]);
    expect(predictionRows({ model: "m", version: 1, predictions: [12.345678] })[0]!.prediction).toBe("12.3457");
  });
});
