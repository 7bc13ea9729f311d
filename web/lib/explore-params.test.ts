import { describe, expect, it } from "vitest";

import { exploreQuery, filterValue, parseScalar, readExplore } from "./explore-params";

describe("readExplore", () => {
  it("asks nothing until a metric is picked", () => {
    const { spec, state } = readExplore({}, "2026-11-28");
    expect(spec).toBeNull();
    expect(state).toMatchObject({ grain: "month", start: "2024-01-01", end: "2026-11-29" });
  });

  it("builds the API's query from the URL", () => {
    const { spec } = readExplore(
      {
        metric: ["visits", "readmissions"],
        grain: "week",
        start: "2025-01-01",
        end: "2025-04-01",
        group_by: "region",
        f0_dim: "department",
        f0_op: "in",
        f0_val: "cardiology, oncology",
        f1_dim: "age",
        f1_op: "gte",
        f1_val: "65",
        compare: "1",
      },
      "2026-11-28",
    );
    expect(spec).toEqual({
      metrics: ["visits", "readmissions"],
      grain: "week",
      start: "2025-01-01",
      end: "2025-04-01",
      group_by: ["region"],
      filters: [
        { dimension: "department", op: "in", value: ["cardiology", "oncology"] },
        { dimension: "age", op: "gte", value: 65 },
      ],
      compare: "previous_period",
    });
  });

  it("names problems instead of sending them", () => {
    const { spec, problems } = readExplore({ metric: "v", start: "2025-05-01", end: "2025-01-01", f0_dim: "x" }, "2026-01-01");
    expect(spec).toBeNull();
    expect(problems).toEqual([
      "End must be after start (start is included, end is not).",
      "Give a value for the filter on x.",
    ]);
  });

  it("round-trips through the URL", () => {
    const { state } = readExplore({ metric: "visits", grain: "day", start: "2025-01-01", end: "2025-02-01", compare: "1" }, "2026-01-01");
    expect(readExplore(Object.fromEntries(new URLSearchParams(exploreQuery(state))), "2026-01-01").state).toEqual(state);
  });
});

describe("filter values", () => {
  it("keeps booleans and numbers typed", () => {
    expect(parseScalar("true")).toBe(true);
    expect(parseScalar("12.5")).toBe(12.5);
    expect(parseScalar("00123456789012345678")).toBe("00123456789012345678");
    expect(filterValue("contains", " 12 ")).toBe("12");
    expect(filterValue("not_in", "a,,b")).toEqual(["a", "b"]);
  });
});
