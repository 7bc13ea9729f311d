/** The Explore query as a CSV file, run on the server with the session's token. */

import { cookies } from "next/headers";

import { csvFilename, toCsv } from "@/lib/csv";
import { readExplore } from "@/lib/explore-params";
import { problemResponse } from "@/lib/forward";
import { ApiError, ServiceUnavailableError } from "@/lib/problem";
import { callService } from "@/lib/request";
import { SESSION_COOKIE } from "@/lib/session";
import { today } from "@/lib/today";
import type { QueryResult } from "@/lib/types";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return problemResponse(401, "Not signed in", "Your session has ended. Log in again.");
  const params: Record<string, string[]> = {};
  for (const [key, value] of new URL(request.url).searchParams) (params[key] ??= []).push(value);
  const { spec, problems, state } = readExplore(params, today());
  if (spec === null) return problemResponse(422, "Invalid input", problems.join(" ") || "Pick at least one metric.");
  try {
    const result = await callService<QueryResult>("analytics", "/api/v1/query", { method: "POST", json: spec, token });
    return new Response(toCsv(result.columns, result.rows), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${csvFilename(state.metrics, state.grain, state.start, state.end)}"`,
        "cache-control": "no-store",
      },
    });
  } catch (error) {
    if (error instanceof ApiError) return problemResponse(error.status, error.problem.title, error.message);
    if (error instanceof ServiceUnavailableError) return problemResponse(502, "Service unreachable", error.message);
    throw error;
  }
}
