/** HIPAA mode (run by tests/web against a platform started with HIPAA_MODE=true): reading a PHI-bearing
 * dataset needs a purpose of use, stated once per browser session, sent with each call and audited. */

import { expect, test } from "@playwright/test";

import { apiToken, logInAt, snapshot, ANALYTICS_API_URL } from "./support";

const DATASET = "hospital_visits";

interface AuditItem {
  action: string;
  dataset: string | null;
  purpose: string | null;
}

test("a PHI read asks the purpose of use, then sends and audits it", async ({ page }, testInfo) => {
  await logInAt(page, `/datasets/${DATASET}`);
  const rows = page.getByRole("region", { name: "Rows" });
  await expect(rows.getByRole("alert")).toContainText("This data holds PHI: state your purpose of use");
  const purpose = page.locator("details.purpose");
  await expect(purpose.locator("summary")).toHaveText("Purpose: not stated");
  await snapshot(page, testInfo, "hipaa-purpose");

  // Free text is refused: a purpose is a code or a ticket, never patient details.
  await purpose.getByLabel(/Purpose of use/).selectOption("other");
  await purpose.getByLabel(/Code or ticket number/).fill("looking at Jane Doe's visit!");
  await purpose.getByRole("button", { name: "Use this purpose" }).click();
  await expect(purpose.getByRole("alert")).toContainText("no patient details");

  await purpose.getByLabel(/Purpose of use/).selectOption("OPERATIONS");
  await purpose.getByRole("button", { name: "Use this purpose" }).click();
  await expect(page.locator("details.purpose summary")).toHaveText("Purpose: OPERATIONS");
  await expect(page).toHaveURL(new RegExp(`/datasets/${DATASET}$`));
  await expect(page.getByTestId("preview-table")).toBeVisible();

  const token = await apiToken();
  const reply = await fetch(`${ANALYTICS_API_URL}/api/v1/audit?action=dataset.rows&dataset=${DATASET}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(reply.status).toBe(200);
  const audit = (await reply.json()) as { items: AuditItem[] };
  expect(audit.items.map((item) => item.purpose)).toContain("OPERATIONS");

  // Logging out forgets the purpose with the session.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await logInAt(page, `/datasets/${DATASET}`);
  await expect(page.locator("details.purpose summary")).toHaveText("Purpose: not stated");
});
