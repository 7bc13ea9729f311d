import { describe, expect, it } from "vitest";

import { subjectOf, subjectPath } from "./subject";

describe("subject of a page", () => {
  it("names the API path of a dataset, model or dashboard page", () => {
    expect(subjectOf("/datasets/sales_2024")).toEqual({ service: "analytics", path: "/api/v1/datasets/sales_2024" });
    expect(subjectOf("/models/churn?version=2")).toEqual({ service: "ml", path: "/api/v1/models/churn" });
    const id = "6f1c1a52-4f0e-4b43-9a55-1f0f8a1c2d3e";
    expect(subjectOf(`/dashboards/${id}`)?.path).toBe(`/api/v1/dashboards/${id}`);
    expect(subjectOf(`/dashboards/${id}/edit`)?.path).toBe(`/api/v1/dashboards/${id}`);
  });

  it("leaves lists and the pages beside the detail pages alone", () => {
    for (const path of ["/", "/datasets", "/datasets/upload", "/models/train", "/models/forecast", "/dashboards/new", "/jobs"]) {
      expect(subjectOf(path), path).toBeNull();
    }
    expect(subjectOf("/datasets/sales/rows")).toBeNull();
  });

  it("encodes the name as the page does, whatever the address bar sent", () => {
    expect(subjectOf("/datasets/Not%20An%20Identifier")?.path).toBe("/api/v1/datasets/Not%20An%20Identifier");
    expect(subjectOf("/datasets/a%2Fb")?.path).toBe("/api/v1/datasets/a%2Fb");
    // A broken escape is passed on as typed (encoded), for the API to refuse.
    expect(subjectPath("/api/v1/datasets/", "%E0%A4%A")).toBe("/api/v1/datasets/%25E0%25A4%25A");
  });
});
