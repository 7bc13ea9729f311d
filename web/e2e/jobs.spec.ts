import { expect, test } from "@playwright/test";

import { hideDevIndicator, importCsv, salesCsv, uniqueName } from "./data";
import { apiToken, logInAt, snapshot } from "./support";

test.beforeEach(async ({ page }) => {
  await hideDevIndicator(page);
});

test("the jobs page lists an import with its state, and the schedules", async ({ page }, testInfo) => {
  const token = await apiToken();
  const dataset = uniqueName("e2e_jobs", testInfo);
  await importCsv(dataset, salesCsv(30), token);

  await logInAt(page, "/jobs");
  await expect(page.getByRole("heading", { name: "Jobs", exact: true })).toBeVisible();
  const row = page.getByTestId("jobs-table").locator("tbody tr", { hasText: `${dataset}.csv into ${dataset}` });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Import");
  await expect(row).toContainText("Done");
  await expect(row.getByRole("link", { name: `30 rows in ${dataset}` })).toHaveAttribute("href", `/datasets/${dataset}`);

  const schedules = page.getByRole("region", { name: "Schedules" });
  await expect(schedules.getByRole("row", { name: /refresh-analytics/ })).toBeVisible();
  await snapshot(page, testInfo, "jobs");

  // An admin turns a schedule off and on again.
  const toggle = schedules.getByRole("button", { name: /schedule update-ml-models/ });
  const before = (await toggle.textContent())?.trim();
  await toggle.click();
  await expect(toggle).not.toHaveText(before ?? "", { timeout: 10_000 });
  await toggle.click();
  await expect(toggle).toHaveText(before ?? "", { timeout: 10_000 });
});
