import { expect, test } from "@playwright/test";

import { createUser, hideDevIndicator, uniqueName } from "./data";
import { apiToken, logInAt, snapshot } from "./support";

test.beforeEach(async ({ page }) => {
  await hideDevIndicator(page);
});

test("an admin manages users and roles and reads the audit log", async ({ page }, testInfo) => {
  const username = uniqueName("e2e_user", testInfo);
  await logInAt(page, "/admin");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" })).toBeVisible();
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page.getByRole("heading", { name: "Users", exact: true })).toBeVisible();

  const form = page.getByRole("form", { name: "Create a user" });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel(/^Password/).fill("short");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("alert")).toHaveText("The password needs at least 12 characters.");
  await form.getByLabel(/^Password/).fill("a-long-enough-password-1");
  await form.getByRole("checkbox", { name: "analyst" }).check();
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("status")).toContainText(`Created ${username} with roles`);
  const row = page.getByTestId("users-table").getByRole("row", { name: new RegExp(username) });
  await expect(row).toContainText("analyst");
  await expect(row).toContainText("Active");

  // Disable the new user.
  await row.getByText(`Change ${username}`).click();
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("Disabled");
  await snapshot(page, testInfo, "admin-users");

  // Roles: a role of our own, then the audit log shows who did it.
  const role = uniqueName("e2e_role", testInfo).slice(0, 60);
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Roles" }).click();
  const roleForm = page.getByRole("form", { name: "Add a role" });
  await roleForm.getByLabel("Name").fill(role);
  await roleForm.getByLabel("Description").fill("Made by the e2e test");
  await roleForm.getByRole("button", { name: "Add role" }).click();
  await expect(roleForm.getByRole("status")).toHaveText(`Created role ${role}.`);
  await expect(page.getByTestId("roles-table").getByRole("row", { name: new RegExp(role) })).toContainText("Made by the e2e test");
  await snapshot(page, testInfo, "admin-roles");

  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Action").fill("user.create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=user\.create/);
  const audit = page.getByTestId("audit-table");
  await expect(audit.getByRole("row", { name: new RegExp(username) }).first()).toContainText("user.create");
  await snapshot(page, testInfo, "admin-audit");
});

test("a viewer sees no admin or jobs in the nav and gets the 403 page for them", async ({ page }, testInfo) => {
  const token = await apiToken();
  const username = uniqueName("e2e_viewer", testInfo);
  const password = await createUser(username, ["viewer"], token);
  await logInAt(page, "/", username, password);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Datasets" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Models" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Jobs" })).toHaveCount(0);

  for (const path of ["/admin", "/admin/users", "/admin/roles", "/admin/audit", "/jobs", "/datasets/upload", "/models/train"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  }
  await snapshot(page, testInfo, "viewer-forbidden");

  // What a viewer may open works, without the write actions.
  await page.goto("/datasets");
  await expect(page.getByRole("heading", { name: "Datasets" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Upload a file" })).toHaveCount(0);
  await page.goto("/models");
  await expect(page.getByRole("link", { name: "Train a model" })).toHaveCount(0);
});
