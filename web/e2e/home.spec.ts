import { expect, test } from "@playwright/test";

import { logInAt, snapshot } from "./support";

test("home shows each service's live status with its links", async ({ page }, testInfo) => {
  await logInAt(page, "/");
  await expect(page.getByTestId("status-analytics")).toHaveText("Up");
  await expect(page.getByTestId("status-ml")).toHaveText("Up");
  const analytics = page.locator('[data-service="analytics"]');
  await expect(analytics.getByRole("link", { name: "API docs" })).toHaveAttribute("href", /\/docs$/);
  await snapshot(page, testInfo, "home");
});
