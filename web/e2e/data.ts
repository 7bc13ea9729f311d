/** Test data for the datasets, models, jobs and admin specs: files, uploads and users made through the API. */

import { expect, type Page, type TestInfo } from "@playwright/test";

import { ANALYTICS_API_URL, ML_SERVICE_URL } from "./support";

/** A name no other run or viewport uses: prefix, project (desktop/phone) and time. */
export function uniqueName(prefix: string, testInfo: TestInfo): string {
  return `${prefix}_${testInfo.project.name}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}

/** A small sales file: day, region, plan, amount, churned — enough rows to train a classifier on. */
export function salesCsv(rows = 120): string {
  const regions = ["north", "south", "east", "west"];
  const plans = ["basic", "pro"];
  const lines = ["day,region,plan,amount,tenure,churned"];
  for (let i = 0; i < rows; i += 1) {
    const day = new Date(Date.UTC(2026, 0, 1 + (i % 200))).toISOString().slice(0, 10);
    const region = regions[i % regions.length]!;
    const plan = plans[(i * 7) % 3 === 0 ? 1 : 0]!;
    const tenure = (i * 13) % 48;
    const amount = (50 + ((i * 37) % 400) + (plan === "pro" ? 100 : 0)).toFixed(2);
    const churned = tenure < 12 && plan === "basic" ? "true" : i % 11 === 0 ? "true" : "false";
    lines.push(`${day},${region},${plan},${amount},${tenure},${churned}`);
  }
  return `${lines.join("\n")}\n`;
}

async function call(base: string, path: string, token: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

export async function send<T>(
  service: "analytics" | "ml",
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const response = await call(service === "analytics" ? ANALYTICS_API_URL : ML_SERVICE_URL, path, token, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.ok, `${method} ${path}: ${response.status} ${text}`).toBeTruthy();
  return (text ? JSON.parse(text) : undefined) as T;
}

interface Job {
  id: string;
  state: string;
  error: string | null;
  result: unknown;
}

export async function waitForJob(jobId: string, token: string, timeoutMs = 60_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await send<Job>("analytics", "GET", `/jobs/${jobId}`, token);
    if (job.state === "SUCCESS" || job.state === "FAILURE") return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Uploads a CSV through the Analytics API and waits for its import. */
export async function importCsv(dataset: string, csv: string, token: string): Promise<void> {
  const form = new FormData();
  form.set("name", dataset);
  form.set("mode", "replace");
  form.set("file", new Blob([csv], { type: "text/csv" }), `${dataset}.csv`);
  const response = await call(ANALYTICS_API_URL, "/datasets", token, { method: "POST", body: form });
  const text = await response.text();
  expect(response.status, text).toBe(202);
  const job = await waitForJob((JSON.parse(text) as { job_id: string }).job_id, token);
  expect(job.state, job.error ?? "").toBe("SUCCESS");
}

/** A user with these roles and a fresh password. */
export async function createUser(username: string, roles: string[], token: string): Promise<string> {
  const password = `Pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  await send("analytics", "POST", "/users", token, { username, password, roles });
  return password;
}

/** `next dev` puts its indicator over the bottom-left corner, where a phone-width form's button sits; the
 * production build has none. Hidden so clicks land where a user's would. */
export async function hideDevIndicator(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const style = document.createElement("style");
    style.textContent = "nextjs-portal { display: none !important; }";
    document.addEventListener("DOMContentLoaded", () => document.head.appendChild(style));
  });
}
