import { createServer } from "node:net";

import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError, ServiceUnavailableError } from "./problem";
import { buildUrl, callFromBrowser, callService, callWithProblem } from "./request";

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const saved = process.env.ML_SERVICE_URL;
afterEach(() => {
  process.env.ML_SERVICE_URL = saved;
  vi.unstubAllGlobals();
});

describe("callService", () => {
  it("names the service that is down", async () => {
    process.env.ML_SERVICE_URL = `http://127.0.0.1:${await closedPort()}`;
    const call = callService("ml", "/api/v1/models", { token: "t" });
    await expect(call).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(call).rejects.toThrow("The ML service is not reachable right now");
  });

  it("turns an error status into an ApiError with plain words", async () => {
    const server = await import("node:http").then(({ createServer: create }) =>
      create((_, response) => {
        response.writeHead(404, { "content-type": "application/problem+json" });
        response.end(JSON.stringify({ type: "about:blank", title: "Not found", status: 404, detail: "model churn", errors: [] }));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const call = callService("ml", "/api/v1/models/churn", { baseUrl: `http://127.0.0.1:${port}` });
      await expect(call).rejects.toBeInstanceOf(ApiError);
      await expect(call).rejects.toThrow("Not found: model churn");
    } finally {
      server.close();
    }
  });
});

describe("buildUrl", () => {
  it("adds the set query parameters only", () => {
    expect(buildUrl("http://h:1", "/api/v1/x", { limit: 5, dataset: undefined, q: "" })).toBe("http://h:1/api/v1/x?limit=5");
  });

  it("keeps the base's own path (a service behind a prefix, the browser's proxy)", () => {
    expect(buildUrl("http://h:1/analytics/", "/api/v1/x")).toBe("http://h:1/analytics/api/v1/x");
    expect(buildUrl("/api/ml", "models/churn")).toBe("/api/ml/models/churn");
  });
});

describe("calls from the browser", () => {
  function reply(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(body === null ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  }

  it("go through the same-origin proxy with their query, and answer the value", async () => {
    const fetch = vi.fn(async () => reply(200, { items: [], total: 0 }));
    vi.stubGlobal("fetch", fetch);
    expect(await callFromBrowser("ml", "/models", { query: { limit: "5" } })).toEqual({ ok: true, value: { items: [], total: 0 } });
    expect(fetch).toHaveBeenCalledWith("/api/ml/models?limit=5", expect.objectContaining({ method: "GET" }));
    vi.stubGlobal("fetch", async () => reply(204, null));
    expect(await callWithProblem("analytics", "dashboards/1", { method: "DELETE" })).toEqual({ ok: true, status: 204, value: undefined });
  });

  it("keep the problem details and say what to fix", async () => {
    const problem = { type: "about:blank", title: "Invalid input", status: 422, detail: "d", errors: [{ loc: ["body", "horizon"], msg: "Field required" }] };
    vi.stubGlobal("fetch", async () => reply(422, problem));
    const result = await callWithProblem("ml", "forecast", { method: "POST", json: {} });
    expect(result).toEqual({ ok: false, status: 422, message: "Please check the input. horizon: Field required", problem });
  });

  it("tell the web server from the service when either cannot be reached", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(await callWithProblem("ml", "models")).toMatchObject({ ok: false, status: 0, message: expect.stringMatching(/web server could not be reached/) });
    vi.stubGlobal("fetch", async () => reply(502, { title: "ML service unreachable", status: 502, detail: "x" }));
    expect(await callFromBrowser("ml", "models")).toEqual({ ok: false, message: expect.stringMatching(/^The ML service is not reachable right now/) });
  });

  it("say when to try again, and that a session has ended", async () => {
    vi.stubGlobal("fetch", async () => reply(429, { title: "Too many", status: 429, detail: "" }, { "retry-after": "7" }));
    expect(await callFromBrowser("analytics", "users")).toEqual({ ok: false, message: "Too many attempts. Try again in 7 seconds." });
    vi.stubGlobal("fetch", async () => reply(401, { title: "Not signed in", status: 401, detail: "Your session has ended. Log in again." }));
    expect(await callFromBrowser("analytics", "users")).toEqual({ ok: false, message: "Your session has ended. Log in again." });
  });
});
