import { describe, expect, it } from "vitest";

import { orderedTiles, readViewOptions, tileQuery } from "./dashboard-view";
import type { Tile } from "./types";

const tile: Tile = {
  id: "t",
  title: "T",
  chart: "kpi",
  query: { metric: "visits", grain: "month", start: "2024-01-01", end: "2026-01-01" },
  layout: { x: 3, y: 0, w: 3, h: 2 },
};

describe("dashboard view", () => {
  it("applies the page's grain and range; a KPI tile is one series", () => {
    const options = readViewOptions({ grain: "week", range: "custom", start: "2025-01-01", end: "2025-02-01", refresh: "60" });
    expect(options.refreshSeconds).toBe(60);
    expect(tileQuery(tile, options, "2026-11-28")).toEqual({
      metric: "visits",
      grain: "week",
      start: "2025-01-01",
      end: "2025-02-01",
      group_by: [],
    });
  });

  it("keeps the saved query by default and ignores unknown values", () => {
    const options = readViewOptions({ grain: "fortnight", refresh: "7" });
    expect(options).toMatchObject({ grain: null, preset: "saved", refreshSeconds: 0 });
    expect(tileQuery({ ...tile, chart: "line" }, options, "2026-11-28")).toEqual(tile.query);
    expect(tileQuery({ ...tile, query: { ...tile.query, compare: "previous_period" } }, options, "2026-11-28")).not.toHaveProperty("compare");
  });

  it("orders tiles by row then column", () => {
    const a = { ...tile, id: "a", layout: { x: 6, y: 0, w: 3, h: 2 } };
    const b = { ...tile, id: "b", layout: { x: 0, y: 2, w: 3, h: 2 } };
    expect(orderedTiles([b, a, tile]).map((t) => t.id)).toEqual(["t", "a", "b"]);
  });
});
