/** A JSON call from the browser that keeps the problem details of an error, for forms that show each field's error. */

import { problemFromResponse } from "./browser-api";
import type { ServiceName } from "./config";
import { toProblem, unreachableMessage, type Problem } from "./problem";

export type DetailedResult<T> =
  | { ok: true; status: number; value: T }
  | { ok: false; status: number; message: string; problem: Problem | null };

export async function callWithProblem<T>(
  service: ServiceName,
  path: string,
  init: { method?: string; json?: unknown; query?: Record<string, string> } = {},
): Promise<DetailedResult<T>> {
  const search = init.query ? `?${new URLSearchParams(init.query).toString()}` : "";
  let response: Response;
  try {
    response = await fetch(`/api/${service}/${path.replace(/^\/+/, "")}${search}`, {
      method: init.method ?? "GET",
      headers: init.json === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
  } catch {
    return { ok: false, status: 0, message: "The web server could not be reached. Check your connection and try again.", problem: null };
  }
  if (response.ok) {
    const value = response.status === 204 ? (undefined as T) : ((await response.json()) as T);
    return { ok: true, status: response.status, value };
  }
  if (response.status === 502) return { ok: false, status: 502, message: unreachableMessage(service), problem: null };
  const copy = response.clone();
  const message = await problemFromResponse(service, response);
  let body: unknown = null;
  const text = await copy.text();
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { ok: false, status: response.status, message, problem: toProblem(response.status, body, text) };
}
