import { createServer } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { ApiError, ServiceUnavailableError } from "./problem";
import { buildUrl, callService } from "./service-client";

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
});
