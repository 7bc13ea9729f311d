import { describe, expect, it } from "vitest";

import { loginPath, needsRefresh, readClaims, safeNext, secondsLeft } from "./session";

function token(claims: object): string {
  return `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
}

describe("session", () => {
  it("reads a token's expiry without trusting it", () => {
    expect(readClaims(token({ sub: "u", exp: 100, iat: 40 }))).toEqual({ sub: "u", exp: 100, iat: 40 });
    expect(readClaims("garbage")).toBeNull();
    expect(readClaims(token({ sub: "u" }))).toBeNull();
    expect(secondsLeft(token({ sub: "u", exp: 100 }), 40)).toBe(60);
  });

  it("refreshes near the end only", () => {
    expect(needsRefresh(100, 900)).toBe(true);
    expect(needsRefresh(600, 3600)).toBe(false);
    expect(needsRefresh(-1, 900)).toBe(false);
  });

  it("keeps the way back on this site", () => {
    expect(safeNext("/explore?grain=week")).toBe("/explore?grain=week");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext("/login?next=/x")).toBe("/");
    expect(safeNext(undefined)).toBe("/");
  });

  it("builds the login path", () => {
    expect(loginPath("/dashboards", "expired")).toBe("/login?next=%2Fdashboards&reason=expired");
    expect(loginPath("/")).toBe("/login");
  });
});
