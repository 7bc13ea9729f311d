import { describe, expect, it } from "vitest";

import { pageAllowed, ruleFor } from "./page-access";

const viewer = ["datasets:read", "metrics:read", "queries:run", "dashboards:read", "models:read"];
const auditor = ["audit:read"];

describe("page access", () => {
  it("takes the most specific rule", () => {
    expect(ruleFor("/admin/audit?user=x")?.anyOf).toEqual(["audit:read"]);
    expect(ruleFor("/admin")?.anyOf).toEqual(["users:manage", "audit:read"]);
    expect(ruleFor("/datasets/upload")?.anyOf).toEqual(["datasets:write"]);
    expect(ruleFor("/datasets/uploads_2024")?.anyOf).toEqual(["datasets:read"]);
    expect(ruleFor("/")?.anyOf).toEqual([]);
  });

  it("keeps a viewer out of admin, jobs, uploads and training", () => {
    for (const path of ["/admin", "/admin/users", "/admin/audit", "/jobs", "/datasets/upload", "/models/train"]) {
      expect(pageAllowed(path, viewer), path).toBe(false);
    }
    for (const path of ["/", "/datasets", "/datasets/sales", "/models/churn", "/models/forecast", "/dashboards/1"]) {
      expect(pageAllowed(path, viewer), path).toBe(true);
    }
  });

  it("lets an auditor read the audit log but not manage users", () => {
    expect(pageAllowed("/admin", auditor)).toBe(true);
    expect(pageAllowed("/admin/audit", auditor)).toBe(true);
    expect(pageAllowed("/admin/users", auditor)).toBe(false);
  });
});
