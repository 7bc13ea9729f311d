import { describe, expect, it } from "vitest";

import { checkPurpose, needsPurpose } from "./purpose";

describe("purpose of use", () => {
  it("takes the common codes and ticket numbers", () => {
    expect(checkPurpose(" OPERATIONS ")).toEqual({ value: "OPERATIONS" });
    expect(checkPurpose("JIRA-1234")).toEqual({ value: "JIRA-1234" });
    expect(checkPurpose("case #42/b")).toEqual({ value: "case #42/b" });
  });

  it("refuses empty, long and free-text purposes", () => {
    expect(checkPurpose("")).toHaveProperty("error");
    expect(checkPurpose("x".repeat(65))).toHaveProperty("error");
    expect(checkPurpose("checking Jane Doe's chart, born 1/2/1960!")).toHaveProperty("error");
    expect(checkPurpose("<script>")).toHaveProperty("error");
  });

  it("knows the API's refusal for a missing purpose", () => {
    expect(needsPurpose(403, "dataset visits holds PHI: ... send the header X-Purpose (for example TREAT)")).toBe(true);
    expect(needsPurpose(403, "needs permission users:manage")).toBe(false);
    expect(needsPurpose(422, "X-Purpose")).toBe(false);
  });
});
