import { expect, test, type Page } from "@playwright/test";

import { ADMIN_PASSWORD, ADMIN_USER, logInAt } from "./support";

/** Form controls a screen reader cannot name. */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>("input, select, textarea"))
      .filter((element) => element.type !== "hidden")
      .filter((element) => (element.labels?.length ?? 0) === 0 && !element.getAttribute("aria-label"))
      .map((element) => element.outerHTML.slice(0, 120)),
  );
}

test("logging in works with the keyboard alone", async ({ page }) => {
  await page.goto("/login");
  await expect(page.getByLabel("Username")).toBeFocused();
  await page.keyboard.type(ADMIN_USER);
  await page.keyboard.press("Tab");
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Platform" })).toBeVisible();
  // The first Tab reaches the skip link, which moves focus past the navigation.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
});

test("every form control on the main pages has a label", async ({ page }) => {
  await logInAt(page, "/dashboards");
  await page.getByRole("link", { name: "Hospital operations" }).click();
  await expect(page.getByRole("heading", { name: "Hospital operations", level: 1 })).toBeVisible();
  const dashboard = page.url();
  for (const path of ["/login", "/", dashboard, "/dashboards/new", "/explore?metric=visits"]) {
    await page.goto(path);
    await expect(page.locator("main")).toBeVisible();
    expect(await unlabelled(page), path).toEqual([]);
  }
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
});
