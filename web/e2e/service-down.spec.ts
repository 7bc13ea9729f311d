import { expect, test } from "@playwright/test";

import { logIn, logInAt, snapshot } from "./support";

// Web servers like the main one, but pointed at a closed port for one service (started by tests/web).
const ML_DOWN = process.env.E2E_ML_DOWN_BASE_URL;
const ANALYTICS_DOWN = process.env.E2E_ANALYTICS_DOWN_BASE_URL;

test("with the ML service down, the pages say which service is down", async ({ page }, testInfo) => {
  test.skip(!ML_DOWN, "E2E_ML_DOWN_BASE_URL is not set");
  await logInAt(page, `${ML_DOWN}/`);
  await expect(page.getByTestId("status-ml")).toHaveText("Not reachable");
  await expect(page.getByTestId("status-analytics")).toHaveText("Up");
  const reply = await page.request.get(`${ML_DOWN}/api/ml/models`);
  expect(reply.status()).toBe(502);
  expect((await reply.json()).detail).toContain("The ML service is not reachable");
  await page.goto(`${ML_DOWN}/models`);
  await expect(page.getByText("The ML service is not reachable")).toBeVisible();
  await expect(page.getByText(/Traceback|at .*\.js:\d+/)).toHaveCount(0);
  await snapshot(page, testInfo, "ml-down");
  // What needs only the Analytics API still works.
  await page.goto(`${ML_DOWN}/dashboards`);
  await expect(page.getByRole("heading", { name: "Dashboards" })).toBeVisible();
});

test("with the Analytics API down, the login page says so", async ({ page }, testInfo) => {
  test.skip(!ANALYTICS_DOWN, "E2E_ANALYTICS_DOWN_BASE_URL is not set");
  await page.goto(`${ANALYTICS_DOWN}/login`);
  await logIn(page);
  await expect(page.locator("#login-error")).toHaveText(/The Analytics API is not reachable/);
  await snapshot(page, testInfo, "analytics-down");
});
