import { describe, expect, it } from "vitest";

import { isCurrent, visibleSections } from "./navigation";

describe("navigation", () => {
  it("hides sections the user has no permission for", () => {
    const viewer = ["dashboards:read", "datasets:read", "metrics:read", "models:read", "queries:run"];
    expect(visibleSections(viewer).map((section) => section.label)).toEqual(["Home", "Dashboards", "Explore", "Datasets", "Models"]);
    expect(visibleSections(["audit:read"]).map((section) => section.label)).toContain("Admin");
  });

  it("marks the current section", () => {
    expect(isCurrent("/", "/dashboards")).toBe(false);
    expect(isCurrent("/dashboards", "/dashboards/1/edit")).toBe(true);
    expect(isCurrent("/data", "/datasets")).toBe(false);
  });
});
