import { expect, test } from "@playwright/test";

import { hideDevIndicator, importCsv, salesCsv, send, uniqueName } from "./data";
import { apiToken, logInAt, snapshot } from "./support";

test.beforeEach(async ({ page }) => {
  await hideDevIndicator(page);
});

interface RowsPage {
  columns: string[];
  rows: (string | number | boolean | null)[][];
  masked: string[];
  total: number;
}

test("upload a CSV with a progress bar, see it imported, preview it as the API has it", async ({ page }, testInfo) => {
  const dataset = uniqueName("e2e_sales", testInfo);
  const csv = salesCsv(80);
  await logInAt(page, "/datasets/upload");
  await expect(page.getByRole("heading", { name: "Upload a file" })).toBeVisible();
  await page.getByLabel("File", { exact: true }).setInputFiles({ name: "sales.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByLabel("Dataset name").fill(dataset);
  await snapshot(page, testInfo, "datasets-upload");
  await page.getByRole("button", { name: "Upload" }).click();

  // The import job is followed until it is done, then links to the dataset.
  const watch = page.getByTestId("job-watch");
  await expect(watch).toHaveAttribute("data-state", "SUCCESS", { timeout: 45_000 });
  await expect(watch).toContainText("Done");
  await watch.getByRole("link", { name: `Open 80 rows in ${dataset}` }).click();

  await expect(page.getByRole("heading", { name: `Dataset ${dataset}` })).toBeVisible();
  await expect(page.getByTestId("dataset-rows")).toHaveText("80");
  const schema = page.getByRole("region", { name: `Columns of ${dataset}` });
  await expect(schema.getByRole("row", { name: /amount/ })).toContainText("numeric"); // money: exact
  await expect(schema.getByRole("row", { name: /^day/ })).toContainText("time");

  // The preview shows what the API answers for the same rows.
  const token = await apiToken();
  const api = await send<RowsPage>("analytics", "GET", `/datasets/${dataset}/rows?limit=50`, token);
  expect(api.total).toBe(80);
  await expect(page.getByTestId("preview-range")).toHaveText("Rows 1–50 of 80");
  const table = page.getByTestId("preview-table");
  await expect(table.locator("thead th")).toHaveText(api.columns.map((column) => new RegExp(`^${column}`)));
  await expect(table.locator("tbody tr")).toHaveCount(50);
  const regionIndex = api.columns.indexOf("region");
  const planIndex = api.columns.indexOf("plan");
  const firstRow = table.locator("tbody tr").first();
  await expect(firstRow.locator("td").nth(regionIndex)).toHaveText(String(api.rows[0]![regionIndex]));
  await expect(firstRow.locator("td").nth(planIndex)).toHaveText(String(api.rows[0]![planIndex]));

  // The next page of rows.
  await page.getByRole("link", { name: "Next rows" }).click();
  await expect(page.getByTestId("preview-range")).toHaveText("Rows 51–80 of 80");

  // The profile is computed on request, then shown per column.
  // A quick job may finish, and the page show the profile, before the job's progress is seen.
  const profile = page.getByRole("region", { name: "Profile by column" });
  await expect(async () => {
    if (await profile.isVisible()) return;
    await page.getByRole("button", { name: "Compute the profile" }).click({ timeout: 2_000 });
    await expect(page.getByTestId("job-watch").or(profile)).toBeVisible({ timeout: 2_000 });
  }).toPass();
  await expect(profile).toBeVisible({ timeout: 45_000 });
  await expect(profile.getByRole("row", { name: /tenure/ })).toContainText("0 – 47");
  await snapshot(page, testInfo, "dataset-detail");

  await page.goto("/datasets");
  await expect(page.getByRole("link", { name: dataset })).toBeVisible();
  await snapshot(page, testInfo, "datasets-list");
});

test("a broken CSV is refused with its line shown", async ({ page }, testInfo) => {
  const dataset = uniqueName("e2e_broken", testInfo);
  const broken = "id,name,amount\n1,alpha,10\n2,beta,20,extra\n3,gamma,30\n";
  await logInAt(page, "/datasets/upload");
  await page.getByLabel("File", { exact: true }).setInputFiles({ name: "broken.csv", mimeType: "text/csv", buffer: Buffer.from(broken) });
  await page.getByLabel("Dataset name").fill(dataset);
  await page.getByRole("button", { name: "Upload" }).click();
  const error = page.getByTestId("upload-error");
  await expect(error).toBeVisible();
  await expect(error).toContainText("The file was not imported.");
  await expect(error).toContainText("line 3");
  await expect(error).toContainText("expected 3 fields, found 4");
  await expect(page.getByTestId("upload-error-line")).toHaveText("3");
  await snapshot(page, testInfo, "datasets-upload-broken");

  // Nothing was created.
  const token = await apiToken();
  const list = await send<{ items: { name: string }[] }>("analytics", "GET", "/datasets?limit=500", token);
  expect(list.items.map((item) => item.name)).not.toContain(dataset);
});

test("PHI columns are masked for a viewer's preview", async ({ page }, testInfo) => {
  // The demo dataset flags patient_name and others as PHI; the built-in viewer role lacks phi:read.
  const token = await apiToken();
  const username = uniqueName("e2e_phi_viewer", testInfo);
  const password = `Pw-${Date.now()}-viewer-check`;
  await send("analytics", "POST", "/users", token, { username, password, roles: ["viewer"] });
  await logInAt(page, "/datasets/hospital_visits", username, password);
  await expect(page.getByRole("heading", { name: "Dataset hospital_visits" })).toBeVisible();
  const table = page.getByTestId("preview-table");
  await expect(table.locator("thead th", { hasText: "patient_name" })).toContainText("masked");
  await expect(table.locator("tbody td.masked").first()).toHaveText("masked");
  await expect(page.getByRole("button", { name: "Edit roles and PHI flags" })).toHaveCount(0);
});

test("an upload while the Analytics API is down says which service", async ({ page }) => {
  await logInAt(page, "/datasets/upload");
  await page.route("**/api/analytics/datasets", (route) =>
    route.request().method() === "POST"
      ? route.fulfill({ status: 502, contentType: "application/problem+json", body: "{}" })
      : route.continue(),
  );
  await page.getByLabel("File", { exact: true }).setInputFiles({ name: "x.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n") });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByTestId("upload-error")).toContainText("The Analytics API is not reachable right now.");
});

test("a larger upload shows its progress while the bytes go", async ({ page, browserName }, testInfo) => {
  test.skip(browserName !== "chromium", "network throttling is a Chromium DevTools feature");
  const dataset = uniqueName("e2e_big", testInfo);
  const csv = salesCsv(40_000);
  await logInAt(page, "/datasets/upload");
  // About 1.6 MB at 1 MB/s: long enough to see the bar move.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 20,
    downloadThroughput: 10 * 1024 * 1024,
    uploadThroughput: 1024 * 1024,
  });
  await page.getByLabel("File", { exact: true }).setInputFiles({ name: "big.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByLabel("Dataset name").fill(dataset);
  await page.getByRole("button", { name: "Upload" }).click();
  const bar = page.getByRole("progressbar", { name: "Upload progress" });
  await expect(page.getByTestId("upload-status")).toContainText(/Sending .* of 1\.\d MB \(\d+%\)/);
  await expect
    .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 10_000 })
    .toBeGreaterThan(0);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await expect(page.getByTestId("job-watch")).toHaveAttribute("data-state", "SUCCESS", { timeout: 45_000 });
  await expect(page.getByTestId("job-watch")).toContainText(`Open 40,000 rows in ${dataset}`);
});

test("an admin changes a column's role and PHI flag", async ({ page }, testInfo) => {
  const token = await apiToken();
  const dataset = uniqueName("e2e_schema", testInfo);
  await importCsv(dataset, salesCsv(20), token);
  await logInAt(page, `/datasets/${dataset}`);
  const schema = page.getByRole("region", { name: `Columns of ${dataset}` });
  // The first click may land before the page is hydrated: repeat it until the editor opens.
  await expect(async () => {
    await page.getByRole("button", { name: "Edit roles and PHI flags" }).click({ timeout: 2_000 });
    await expect(schema.getByRole("combobox", { name: "Role of tenure" })).toBeVisible({ timeout: 1_000 });
  }).toPass();
  await schema.getByRole("combobox", { name: "Role of tenure" }).selectOption("dimension");
  await schema.getByRole("checkbox", { name: "region is PHI" }).check();
  await page.getByRole("button", { name: "Save columns" }).click();
  await expect(page.getByText("Saved 2 columns.")).toBeVisible();
  await expect(schema.getByRole("row", { name: /^tenure/ })).toContainText("dimension");
  await expect(schema.getByRole("row", { name: /^region/ })).toContainText("PHI");
  const detail = await send<{ columns: { name: string; role: string; phi: boolean }[] }>("analytics", "GET", `/datasets/${dataset}`, token);
  expect(detail.columns.find((column) => column.name === "tenure")?.role).toBe("dimension");
  expect(detail.columns.find((column) => column.name === "region")?.phi).toBe(true);

  // A role the type cannot take is not offered: only dates and timestamps can be time.
  await page.getByRole("button", { name: "Edit roles and PHI flags" }).click();
  await expect(schema.getByRole("combobox", { name: "Role of amount" }).locator("option")).toHaveText(["dimension", "measure"]);
});

test("an unknown dataset, model or dashboard is the not-found page with HTTP 404", async ({ page }) => {
  await logInAt(page, "/datasets");
  // The layout asks the API before the loading screen streams, so the status is a real 404.
  for (const path of [
    "/datasets/no_such_dataset_here",
    "/models/no_such_model_here",
    "/datasets/Not-An-Identifier",
    "/dashboards/6f1c1a52-4f0e-4b43-9a55-1f0f8a1c2d3e",
    "/dashboards/not-a-uuid/edit",
  ]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(404);
    await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  }
  // A page beside them that names no thing is not mistaken for one.
  expect((await page.goto("/datasets/upload"))?.status()).toBe(200);
});

test("the same file uploaded again adds nothing, and says so", async ({ page }, testInfo) => {
  const token = await apiToken();
  const dataset = uniqueName("e2e_dup", testInfo);
  const csv = salesCsv(12);
  await importCsv(dataset, csv, token);
  await logInAt(page, `/datasets/upload?into=${dataset}`);
  await expect(page.getByLabel("Dataset name")).toHaveValue(dataset);
  await expect(page.getByText(`Adds to the existing dataset ${dataset}.`)).toBeVisible();
  await page.getByLabel("File", { exact: true }).setInputFiles({ name: "again.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("status").filter({ hasText: "was imported into" })).toHaveText(
    `This file was imported into ${dataset} before (12 rows); nothing was added. Open ${dataset}`,
  );
});
