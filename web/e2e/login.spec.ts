import { expect, test } from "@playwright/test";

import { ADMIN_PASSWORD, ADMIN_USER, ANALYTICS_API_URL, logIn, snapshot } from "./support";

test("a wrong password is refused in plain words, then the right one logs in", async ({ page }, testInfo) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await snapshot(page, testInfo, "login");
  await logIn(page, ADMIN_USER, "not-the-password");
  await expect(page.locator("#login-error")).toHaveText("Wrong username or password.");
  await expect(page.getByLabel("Username")).toHaveValue(ADMIN_USER);
  await logIn(page, ADMIN_USER, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Platform" })).toBeVisible();
});

test("the session cookie is httpOnly and the token never reaches the page", async ({ page, context }) => {
  await page.goto("/login");
  await logIn(page);
  await expect(page.getByRole("heading", { name: "Platform" })).toBeVisible();
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === "bi_session");
  expect(session).toBeDefined();
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Lax");
  expect(await page.evaluate(() => document.cookie)).not.toContain("bi_session");
  const token = session?.value ?? "missing";
  expect(await page.content()).not.toContain(token);
  for (const path of ["/dashboards", "/explore"]) {
    const html = await (await page.request.get(path)).text();
    expect(html).not.toContain(token);
  }
});

test("a removed session goes to the login page and back to the page after logging in", async ({ page, context }) => {
  await page.goto("/login");
  await logIn(page);
  await expect(page.getByRole("heading", { name: "Platform" })).toBeVisible();
  await context.clearCookies();
  await page.goto("/explore?grain=week");
  await expect(page).toHaveURL(/\/login\?next=%2Fexplore%3Fgrain%3Dweek/);
  await logIn(page);
  await expect(page).toHaveURL(/\/explore\?grain=week$/);
});

test("an expired or revoked token goes to the login page saying the session ended", async ({ page, context, baseURL }) => {
  // A well-formed token the API refuses: signed with another key, not yet expired.
  const claims = Buffer.from(JSON.stringify({ sub: "x", exp: Math.floor(Date.now() / 1000) + 3600, iat: 0 })).toString("base64url");
  await context.addCookies([{ name: "bi_session", value: `e30.${claims}.c2ln`, url: baseURL ?? "", httpOnly: true }]);
  await page.goto("/dashboards");
  await expect(page).toHaveURL(/\/login\?next=%2Fdashboards&reason=expired/);
  await expect(page.getByRole("status")).toContainText("Your session has ended");
  await logIn(page);
  await expect(page).toHaveURL(/\/dashboards$/);
});

test("logging out ends the session at the API, so a copied cookie opens nothing", async ({ page, context, baseURL }) => {
  await page.goto("/login");
  await logIn(page);
  await expect(page.getByRole("heading", { name: "Platform" })).toBeVisible();
  const token = (await context.cookies()).find((cookie) => cookie.name === "bi_session")?.value ?? "missing";
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  expect((await context.cookies()).some((cookie) => cookie.name === "bi_session")).toBe(false);

  const me = await fetch(`${ANALYTICS_API_URL}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  expect(me.status).toBe(401);
  expect(((await me.json()) as { detail: string }).detail).toContain("logged out");
  // The cookie put back (copied before the logout) is a session that has ended.
  await context.addCookies([{ name: "bi_session", value: token, url: baseURL ?? "", httpOnly: true }]);
  await page.goto("/dashboards");
  await expect(page).toHaveURL(/\/login\?next=%2Fdashboards&reason=expired/);
});
