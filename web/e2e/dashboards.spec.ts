import { expect, test } from "@playwright/test";

import { apiCall, apiToken, logInAt, snapshot } from "./support";

interface Tile {
  id: string;
  title: string;
  chart: string;
  query: Record<string, unknown> & { metric?: string };
}
interface Dashboard {
  id: string;
  name: string;
  tiles: Tile[];
}
interface QueryResult {
  columns: string[];
  rows: (string | number | null)[][];
}

test("the demo dashboard's KPI numbers equal the API's", async ({ page }, testInfo) => {
  const token = await apiToken();
  const list = await apiCall<{ items: Dashboard[] }>("analytics", "/dashboards", token);
  const dashboard = list.items.find((item) => item.name === "Hospital operations");
  expect(dashboard, "the demo dashboard").toBeDefined();
  await logInAt(page, "/dashboards");
  await page.getByRole("link", { name: "Hospital operations" }).click();
  await expect(page.getByRole("heading", { name: "Hospital operations", level: 1 })).toBeVisible();
  const kpis = dashboard!.tiles.filter((tile) => tile.chart === "kpi");
  expect(kpis.length).toBeGreaterThan(0);
  for (const tile of kpis) {
    // The card: the latest period of the tile's series against the period before it.
    const answer = await apiCall<QueryResult>("analytics", "/query", token, tile.query);
    const metric = tile.query.metric!;
    const rows = [...answer.rows].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const column = answer.columns.indexOf(metric);
    const value = Number(rows.at(-1)![column]);
    const previous = Number(rows.at(-2)![column]);
    const change = Math.round(((value - previous) / Math.abs(previous)) * 10000) / 100;
    const card = page.getByTestId(`kpi-${tile.id}`);
    await expect(card).toBeVisible();
    await expect(card.getByTestId(`kpi-${tile.id}-value`)).toHaveAttribute("data-value", String(value));
    await expect(card.getByTestId(`kpi-${tile.id}-change`)).toHaveAttribute("data-value", String(change));
    await expect(card.getByTestId(`kpi-${tile.id}-period`)).toHaveText(`Period of ${String(rows.at(-1)![0])}`);
    await expect(card).toContainText(`in ${String(rows.at(-2)![0])}`);
  }
  // Charts drew (a canvas per chart tile) and the table tile has rows.
  await expect(page.locator(".tile canvas").first()).toBeVisible();
  await expect(page.locator(".tile table tbody tr").first()).toBeVisible();
  await snapshot(page, testInfo, "dashboard");
  // Auto refresh: the choice goes to the URL, and each refresh renders the page again on the server.
  await page.getByLabel("Auto refresh").selectOption("30");
  await expect(page).toHaveURL(/refresh=30/);
  const before = await page.getByTestId("rendered-at").textContent();
  await page.waitForTimeout(1100);
  await page.getByRole("button", { name: "Refresh now" }).click();
  await expect(page.getByTestId("rendered-at")).not.toHaveText(before ?? "");
});

test("a dashboard is created with tiles, re-gridded, edited and deleted", async ({ page }, testInfo) => {
  const name = `E2E ${testInfo.project.name} ${Date.now()}`;
  await logInAt(page, "/dashboards/new");
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add tile" }).click();
  const tile = page.getByRole("group", { name: "Tile 1" });
  await tile.getByLabel("Title").fill("Visits KPI");
  await tile.getByLabel("Chart").selectOption("kpi");
  await tile.getByRole("checkbox", { name: "visits" }).check();
  await tile.getByRole("checkbox", { name: "avg_length_of_stay" }).uncheck();
  await snapshot(page, testInfo, "dashboard-editor");
  await page.getByRole("button", { name: "Save dashboard" }).click();
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  await expect(page.locator(".kpi .kpi-value")).not.toHaveText("—");
  // The grain picker re-renders the tiles on the server.
  await page.getByLabel("Grain").selectOption("year");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/grain=year/);
  await expect(page.locator(".kpi")).toContainText(/Period of \d{4}-01-01/);
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByRole("group", { name: "Tile 1" }).getByLabel("Title").fill("");
  await page.getByRole("button", { name: "Save dashboard" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "give it a title" })).toBeVisible();
  await page.getByRole("group", { name: "Tile 1" }).getByLabel("Title").fill("Visits this period");
  await page.getByRole("button", { name: "Save dashboard" }).click();
  await expect(page.getByRole("heading", { name: "Visits this period" })).toBeVisible();
  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/dashboards$/);
  await expect(page.getByRole("link", { name })).toHaveCount(0);
});
