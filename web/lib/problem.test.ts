import { describe, expect, it } from "vitest";

import { ApiError, ServiceUnavailableError, describeProblem, errorMessage, fieldName, toProblem } from "./problem";

describe("toProblem", () => {
  it("reads problem details", () => {
    const problem = toProblem(422, {
      type: "about:blank",
      title: "Invalid request",
      status: 422,
      detail: "POST /api/v1/query: body.grain: bad",
      errors: [{ loc: ["body", "grain"], msg: "Input should be 'day'" }],
    });
    expect(problem.errors).toEqual([{ loc: ["body", "grain"], msg: "Input should be 'day'" }]);
    expect(problem.title).toBe("Invalid request");
  });

  it("keeps a refused file's name, line and column, and a batch's rows, as the items give them", () => {
    const problem = toProblem(422, {
      detail: "bad.csv: line 3: expected 2 fields, found 3",
      errors: [
        { loc: ["file"], msg: "line 3: expected 2 fields, found 3", file: "bad.csv", line: 3, column: "price" },
        { loc: ["features", "age"], msg: "not a number", rows: [1, 4], line: "3" },
      ],
    });
    expect(problem.errors).toEqual([
      { loc: ["file"], msg: "line 3: expected 2 fields, found 3", file: "bad.csv", line: 3, column: "price" },
      { loc: ["features", "age"], msg: "not a number", rows: [1, 4] },
    ]);
  });

  it("makes do with a body that is not problem details", () => {
    expect(toProblem(502, null, "<html>Bad Gateway</html>")).toMatchObject({ status: 502, title: "Bad gateway" });
    expect(toProblem(422, { detail: [{ loc: ["body", "x"], msg: "missing" }] }).errors).toHaveLength(1);
  });
});

describe("describeProblem", () => {
  const problem = (status: number, detail = "", errors: { loc: (string | number)[]; msg: string }[] = []) => ({
    type: "about:blank",
    title: "t",
    status,
    detail,
    errors,
  });

  it("lists field errors without FastAPI's body prefix", () => {
    const message = describeProblem("ml", problem(422, "x", [{ loc: ["body", "records", 0, "age"], msg: "should be a number" }]));
    expect(message).toBe("Please check the input. records[0].age: should be a number");
  });

  it("says the session ended on a bare 401, and passes a reason on", () => {
    expect(describeProblem("analytics", problem(401, "Not authenticated"))).toBe("Your session has ended. Log in again.");
    expect(describeProblem("analytics", problem(401, "wrong username or password"))).toBe("Wrong username or password.");
  });

  it("says how long to wait on 429", () => {
    expect(describeProblem("analytics", problem(429), 30)).toBe("Too many attempts. Try again in 30 seconds.");
  });

  it("names the service on server errors", () => {
    expect(describeProblem("ml", problem(500, "Model artifact integrity error: churn/1.skops"))).toBe(
      "The ML service had an internal error: Model artifact integrity error: churn/1.skops",
    );
    expect(describeProblem("analytics", problem(503))).toBe("The Analytics API is unavailable right now.");
  });

  it("keeps a 422 detail that names the line", () => {
    expect(describeProblem("analytics", problem(422, "line 3, column amount: not a number"))).toBe(
      "Line 3, column amount: not a number",
    );
  });
});

describe("errors", () => {
  it("an unreachable service is named", () => {
    expect(new ServiceUnavailableError("ml").message).toContain("ML service is not reachable");
  });

  it("hides unknown errors behind a plain sentence", () => {
    expect(errorMessage(new Error("TypeError: x is undefined at foo.js:1"))).not.toContain("foo.js");
    expect(errorMessage(new ApiError("analytics", toProblem(404, { detail: "dashboard 1" })))).toBe("Not found: dashboard 1");
  });

  it("fieldName joins locations", () => {
    expect(fieldName(["query", "limit"])).toBe("limit");
    expect(fieldName([])).toBe("");
  });
});
