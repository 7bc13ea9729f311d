import { describe, expect, it } from "vitest";

import { dashboardToDraft, draftProblems, draftToContent, newTile, packLayout } from "./dashboard-draft";
import type { Dashboard } from "./types";

const dashboard: Dashboard = {
  id: "d1",
  name: "Ops",
  description: "",
  owner: null,
  shared_with_roles: ["viewer"],
  created_at: "",
  updated_at: "",
  tiles: [
    {
      id: "t2",
      title: "Table",
      chart: "table",
      query: { metrics: ["a", "b"], grain: "year", start: "2024-01-01", end: "2026-01-01", group_by: ["dept"], filters: [], limit: 100 },
      layout: { x: 0, y: 2, w: 12, h: 4 },
    },
    {
      id: "t1",
      title: "KPI",
      chart: "kpi",
      query: { metric: "a", grain: "month", start: "2024-01-01", end: "2026-01-01" },
      layout: { x: 0, y: 0, w: 3, h: 2 },
    },
  ],
};

describe("dashboard drafts", () => {
  it("packs tiles in rows of 12", () => {
    expect(packLayout([{ width: 6, chart: "kpi" }, { width: 8, chart: "line" }, { width: 4, chart: "bar" }])).toEqual([
      { x: 0, y: 0, w: 6, h: 2 },
      { x: 0, y: 2, w: 8, h: 4 },
      { x: 8, y: 2, w: 4, h: 4 },
    ]);
  });

  it("round-trips a dashboard, keeping fields the form does not edit", () => {
    const content = draftToContent(dashboardToDraft(dashboard));
    expect(content.tiles.map((tile) => tile.id)).toEqual(["t1", "t2"]);
    expect(content.tiles[0]!.query).toEqual({ metric: "a", grain: "month", start: "2024-01-01", end: "2026-01-01", group_by: [] });
    expect(content.tiles[1]!.query).toMatchObject({ metrics: ["a", "b"], filters: [], limit: 100, group_by: ["dept"] });
    expect(content.shared_with_roles).toEqual(["viewer"]);
  });

  it("leaves the id of a new tile to the API", () => {
    const draft = { ...dashboardToDraft(null), name: "N", tiles: [newTile(undefined, "2026-01-01")] };
    expect(draftProblems(draft)).toEqual(["Tile 1 (New tile): pick at least one metric."]);
    expect("id" in draftToContent(draft).tiles[0]!).toBe(false);
  });

  it("names what is missing", () => {
    const draft = dashboardToDraft(dashboard);
    draft.name = " ";
    draft.tiles[0]!.metrics = ["a", "b"];
    expect(draftProblems(draft)).toEqual(["Give the dashboard a name.", "Tile 1 (KPI): a KPI tile shows one metric."]);
  });
});
