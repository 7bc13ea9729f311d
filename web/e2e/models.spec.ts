import { expect, test } from "@playwright/test";

import { hideDevIndicator, importCsv, salesCsv, send, uniqueName } from "./data";
import { apiToken, logInAt, snapshot } from "./support";

test.beforeEach(async ({ page }) => {
  await hideDevIndicator(page);
});

interface ModelDetail {
  name: string;
  aliases: Record<string, number>;
  versions: { version: number; features: { name: string; type: string }[]; metrics: Record<string, unknown> }[];
}

test("train a model on a small dataset, predict with it, and see a wrong type refused on screen", async ({ page }, testInfo) => {
  const token = await apiToken();
  const dataset = uniqueName("e2e_churn", testInfo);
  const model = uniqueName("e2e_churn_model", testInfo);
  await importCsv(dataset, salesCsv(160), token);

  await logInAt(page, "/models/train");
  await expect(page.getByRole("heading", { name: "Train a model" })).toBeVisible();
  await page.getByLabel("Model name").fill(model);
  await page.locator('select[name="dataset"]').selectOption(dataset);
  const target = page.locator('select[name="target"]');
  await expect(target.locator("option", { hasText: "churned (boolean)" })).toHaveCount(1);
  await target.selectOption("churned");
  await page.locator('select[name="task"]').selectOption("classification");
  await snapshot(page, testInfo, "models-train");
  await page.getByRole("button", { name: "Train", exact: true }).click();

  // ?wait=true on a small dataset: the new version comes back in the reply, with its metrics.
  const result = page.getByTestId("train-result");
  await expect(result).toContainText(`Trained ${model} version 1.`, { timeout: 45_000 });
  await expect(result).toContainText("baseline");
  await result.getByRole("link", { name: `Open model ${model}` }).click();

  await expect(page.getByRole("heading", { name: `Model ${model}` })).toBeVisible();
  const registered = await send<ModelDetail>("ml", "GET", `/models/${model}`, token);
  expect(registered.versions).toHaveLength(1);
  const features = registered.versions[0]!.features.map((feature) => feature.name).sort();
  expect(features).toEqual(["amount", "plan", "region", "tenure"]);
  const metrics = page.getByTestId("metrics-v1");
  await expect(metrics.getByRole("row", { name: /Accuracy/ })).toContainText(
    String(Math.round((registered.versions[0]!.metrics.accuracy as number) * 10_000) / 10_000),
  );

  // Point production at version 1.
  await page.getByRole("button", { name: "Point alias" }).click();
  await expect(page.getByText("production now names version 1.")).toBeVisible();
  await expect(page.getByTestId("aliases")).toHaveText("production → version 1");

  // A prediction from typed inputs built from the version's features.
  const predict = page.getByRole("form", { name: "Predict one record" });
  await predict.locator("#feature-amount").fill("120.5");
  await predict.locator("#feature-tenure").fill("3");
  await predict.locator("#feature-region").fill("north");
  await predict.locator("#feature-plan").fill("basic");
  await predict.getByRole("button", { name: "Predict" }).click();
  const answer = page.getByTestId("predict-result");
  await expect(answer).toContainText("Version 1 predicts");
  await expect(page.getByTestId("prediction")).toHaveText(/^(true|false)$/);
  await expect(answer.getByRole("row")).toHaveCount(3);
  await snapshot(page, testInfo, "model-detail");

  // A wrong type: the form warns, and the service's 422 lists the field on screen.
  await predict.locator("#feature-amount").fill("a lot");
  await expect(predict.getByText("Amount is not a number.")).toBeVisible();
  await predict.getByRole("button", { name: "Predict" }).click();
  const refused = page.getByTestId("predict-error");
  await expect(refused).toContainText("The service refused the input:");
  await expect(refused.getByRole("listitem")).toContainText(["Feature amount expects a number (or null) but has another type in records[0]"]);
  await expect(page.getByTestId("predict-result")).toHaveCount(0);
  await snapshot(page, testInfo, "model-predict-422");

  // A second version, trained as a job (no wait) from the prefilled form, followed to the end.
  await page.getByRole("link", { name: "Train a new version" }).click();
  await expect(page.getByRole("heading", { name: `Train a new version of ${model}` })).toBeVisible();
  await expect(page.locator('select[name="target"]')).toHaveValue("churned");
  await page.getByRole("checkbox", { name: /Wait for small datasets/ }).uncheck();
  await page.getByRole("button", { name: "Train", exact: true }).click();
  const watch = page.getByTestId("job-watch");
  await expect(watch).toHaveAttribute("data-state", "SUCCESS", { timeout: 45_000 });
  await watch.getByRole("link", { name: `Open ${model} version 2` }).click();
  await expect(page.getByRole("heading", { name: "Version 2" })).toBeVisible();

  await page.goto("/models");
  await expect(page.getByRole("link", { name: model })).toBeVisible();
  await expect(page.getByRole("row", { name: new RegExp(model) })).toContainText("production → v1");
  await snapshot(page, testInfo, "models-list");
});

test("forecast a metric: history, forecast with its interval, and the backtest against the naive", async ({ page }, testInfo) => {
  await logInAt(page, "/models/forecast");
  await page.locator('select[name="metric"]').selectOption("visits");
  await page.locator('select[name="grain"]').selectOption("month");
  await page.locator('input[name="horizon"]').fill("6");
  await page.getByRole("button", { name: "Forecast" }).click();
  const result = page.getByTestId("forecast-result");
  await expect(result).toBeVisible({ timeout: 30_000 });
  await expect(result.getByRole("img", { name: /visits All: history and forecast with a 95% interval/ })).toBeVisible();
  await expect(result.getByTestId("backtest")).toContainText(/Over the last \d+ periods the model's MAE is/);
  await expect(result.getByRole("row", { name: /Naive \(last value\)/ })).toBeVisible();
  await snapshot(page, testInfo, "models-forecast");

  // Too long a horizon is refused before anything is sent.
  await page.locator('input[name="horizon"]').fill("99");
  await page.getByRole("button", { name: "Forecast" }).click();
  await expect(page.getByTestId("forecast-error")).toHaveText("Give a horizon from 1 to 36 months.");
});

test("a service that is down is named on screen, not a blank page", async ({ page }) => {
  await logInAt(page, "/models/forecast");
  // The proxy answers 502 when it cannot reach the ML service.
  await page.route("**/api/ml/forecast", (route) =>
    route.fulfill({
      status: 502,
      contentType: "application/problem+json",
      body: JSON.stringify({ type: "about:blank", title: "ML service unreachable", status: 502, detail: "", errors: [] }),
    }),
  );
  await page.getByRole("button", { name: "Forecast" }).click();
  await expect(page.getByTestId("forecast-error")).toHaveText(
    "The ML service is not reachable right now. It may be down or restarting; try again in a moment.",
  );
});
