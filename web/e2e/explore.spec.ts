import { expect, test } from "@playwright/test";

import { logInAt, snapshot } from "./support";

test("explore draws a chart and a table, says where the answer came from, and downloads CSV", async ({ page }, testInfo) => {
  await logInAt(page, "/explore");
  await page.getByRole("checkbox", { name: /^visits/ }).check();
  await page.getByLabel("Grain").selectOption("month");
  await page.getByLabel("From").fill("2025-01-01");
  await page.getByLabel("To (not included)").fill("2026-01-01");
  await page.getByRole("checkbox", { name: "region" }).check();
  await page.getByRole("group", { name: "Filter 1" }).getByLabel("Dimension").selectOption("department");
  await page.getByRole("group", { name: "Filter 1" }).getByLabel("Condition").selectOption("in");
  await page.getByRole("group", { name: "Filter 1" }).getByLabel(/^Value/).fill("cardiology, oncology");
  await page.getByRole("button", { name: "Run query" }).click();
  await expect(page).toHaveURL(/metric=visits/);
  await expect(page.getByTestId("answer-source")).toHaveText(/from the (rollup|table)/);
  await expect(page.locator("canvas").first()).toBeVisible();
  await expect(page.getByRole("region", { name: "Query result" }).locator("tbody tr")).toHaveCount(48);
  // The same query again is answered from the cache.
  await page.reload();
  await expect(page.getByTestId("answer-cached")).toHaveText("cached");
  await snapshot(page, testInfo, "explore");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download CSV" }).click();
  const file = await download;
  const text = await (await file.createReadStream()).toArray();
  const csv = Buffer.concat(text).toString("utf8");
  expect(csv.split("\r\n")[0]).toBe("period,region,visits");
  expect(csv.trim().split("\r\n")).toHaveLength(49);
});

test("a bad range is named on the page, not sent", async ({ page }) => {
  await logInAt(page, "/explore?metric=visits&start=2025-06-01&end=2025-01-01");
  await expect(page.getByRole("alert").filter({ hasText: "End must be after start" })).toBeVisible();
});
