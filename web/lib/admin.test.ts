import { describe, expect, it } from "vitest";

import { auditFilters, auditPageHref, auditQuery, usernameProblem } from "./admin";

describe("audit filters", () => {
  it("keeps the filters the API takes and drops the rest", () => {
    const filters = auditFilters({ user: " alice ", outcome: "denied", phi: "maybe", since: "2026-11-01", until: "not a date", offset: "50" });
    expect(filters).toEqual({ user: "alice", action: "", dataset: "", outcome: "denied", since: "2026-11-01", until: "", phi: "", offset: 50 });
    expect(auditQuery(filters)).toEqual({ limit: 50, offset: 50, user: "alice", outcome: "denied", since: "2026-11-01" });
    expect(auditFilters({ outcome: "error", offset: "-3" })).toMatchObject({ outcome: "", offset: 0 });
  });

  it("links other pages of the same filters", () => {
    const filters = auditFilters({ action: "auth.login", phi: "true" });
    expect(auditPageHref(filters, 0)).toBe("/admin/audit?offset=0&action=auth.login&phi=true".replace("offset=0&", ""));
    expect(auditPageHref(filters, 100)).toBe("/admin/audit?offset=100&action=auth.login&phi=true");
    expect(auditPageHref(auditFilters({}), 0)).toBe("/admin/audit");
  });

  it("checks usernames as the API does", () => {
    expect(usernameProblem("alice.smith@x")).toBeNull();
    expect(usernameProblem("Alice")).toMatch(/lowercase/);
    expect(usernameProblem("")).toMatch(/username/);
  });
});
