import { describe, expect, it } from "vitest";

import { changePercent, dimensionColumns, latestFigure, toChartData } from "./series";

const grouped = {
  columns: ["period", "region", "visits"],
  rows: [
    ["2025-02-01", "east", 5],
    ["2025-01-01", "east", 3],
    ["2025-01-01", "west", 4],
  ],
};

describe("toChartData", () => {
  it("makes one series per group over sorted periods, with gaps as nulls", () => {
    expect(toChartData(grouped, ["visits"])).toEqual({
      categories: ["2025-01-01", "2025-02-01"],
      series: [
        { name: "east", data: [3, 5] },
        { name: "west", data: [4, null] },
      ],
    });
  });

  it("names series by metric when there are several", () => {
    const data = toChartData({ columns: ["period", "a", "b"], rows: [["2025-01-01", 1, 2]] }, ["a", "b"]);
    expect(data.series.map((series) => series.name)).toEqual(["a", "b"]);
  });

  it("leaves comparison columns out of the dimensions", () => {
    expect(dimensionColumns({ columns: ["period", "v", "v_previous", "v_change_pct"] }, ["v"])).toEqual([]);
  });
});

describe("latestFigure", () => {
  it("takes the latest period against the one before it", () => {
    const result = {
      columns: ["period", "visits"],
      rows: [
        ["2025-12-01", 2330],
        ["2025-10-01", 2590],
        ["2025-11-01", 2518],
      ],
    };
    expect(latestFigure(result, "visits")).toEqual({
      period: "2025-12-01",
      value: 2330,
      previousPeriod: "2025-11-01",
      previous: 2518,
      changePct: -7.47,
    });
  });

  it("has no change with one period, or none before", () => {
    expect(latestFigure({ columns: ["period", "v"], rows: [["2025-01-01", 5]] }, "v")).toMatchObject({ value: 5, changePct: null });
    expect(latestFigure({ columns: ["period", "v"], rows: [] }, "v").value).toBeNull();
    expect(changePercent(5, 0)).toBeNull();
  });
});
