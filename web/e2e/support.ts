/** Shared steps of the end-to-end specs: logging in, the API as the test sees it, screenshots. */

import { expect, type Page, type TestInfo } from "@playwright/test";

export const ADMIN_USER = process.env.E2E_ADMIN_USER ?? "admin";
export const ADMIN_PASSWORD = process.env.E2E_ADMIN_PASSWORD ?? "";
export const ANALYTICS_API_URL = process.env.ANALYTICS_API_URL ?? "http://127.0.0.1:3000";
export const ML_SERVICE_URL = process.env.ML_SERVICE_URL ?? "http://127.0.0.1:8000";

export async function logIn(page: Page, username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

export async function logInAt(page: Page, path: string, username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<void> {
  await page.goto(path);
  await expect(page).toHaveURL(/\/login/);
  await logIn(page, username, password);
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
}

export async function apiToken(username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<string> {
  const response = await fetch(`${ANALYTICS_API_URL}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

export async function apiCall<T>(service: "analytics" | "ml", path: string, token: string, body?: unknown): Promise<T> {
  const base = service === "analytics" ? ANALYTICS_API_URL : ML_SERVICE_URL;
  const response = await fetch(`${base}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.ok, `${path}: ${response.status} ${text}`).toBeTruthy();
  return JSON.parse(text) as T;
}

/** A full-page screenshot kept as a test artifact, named by page and viewport. */
export async function snapshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await page.screenshot({
    path: `test-results/screenshots/${name}-${testInfo.project.name}.png`,
    fullPage: true,
  });
}
