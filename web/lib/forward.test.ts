import { describe, expect, it } from "vitest";

import { forward, sameOrigin, targetUrl } from "./forward";

describe("the same-origin proxy", () => {
  it("keeps paths under /api/v1 of the service", () => {
    process.env.ANALYTICS_API_URL = "http://api:3000/";
    expect(targetUrl("analytics", ["datasets", "a b"], "?limit=5")).toBe("http://api:3000/api/v1/datasets/a%20b?limit=5");
    expect(targetUrl("analytics", ["..", "..", "metrics"], "")).toBeNull();
    expect(targetUrl("analytics", ["datasets", "."], "")).toBeNull();
  });

  it("refuses state changes from another site", () => {
    const request = (origin: string | null) =>
      new Request("http://web:3001/api/analytics/dashboards", {
        method: "POST",
        headers: { host: "web:3001", ...(origin ? { origin } : {}) },
      });
    expect(sameOrigin(request("http://web:3001"))).toBe(true);
    expect(sameOrigin(request(null))).toBe(true);
    expect(sameOrigin(request("http://evil.example"))).toBe(false);
  });

  it("answers 401 without a session, in problem details", async () => {
    const response = await forward("analytics", new Request("http://web:3001/api/analytics/me"), ["me"]);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ status: 401, detail: "Your session has ended. Log in again." });
  });
});
