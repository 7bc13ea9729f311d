/** Browser-side calls through the same-origin proxy (/api/analytics/*, /api/ml/*): the cookie carries the
 * session, page scripts never see the token. A 401 sends the user to log in and back. */

import type { ServiceName } from "./config";
import { describeProblem, toProblem, unreachableMessage } from "./problem";

export async function problemFromResponse(service: ServiceName, response: Response): Promise<string> {
  if (response.status === 401 && typeof window !== "undefined") {
    const next = window.location.pathname + window.location.search;
    // A full load, so the login page starts without this page's client state.
    // eslint-disable-next-line @next/next/no-location-assign-relative-destination
    window.location.assign(`/login?next=${encodeURIComponent(next)}&reason=expired`);
    return "Your session has ended. Log in again.";
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get("retry-after"));
  return describeProblem(service, toProblem(response.status, body, text), Number.isFinite(retry) && retry > 0 ? retry : null);
}

export type BrowserResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** A JSON call from a client component; never throws, answers a message to show instead. */
export async function callFromBrowser<T>(
  service: ServiceName,
  path: string,
  init: { method?: string; json?: unknown } = {},
): Promise<BrowserResult<T>> {
  let response: Response;
  try {
    response = await fetch(`/api/${service}/${path.replace(/^\/+/, "")}`, {
      method: init.method ?? "GET",
      headers: init.json === undefined ? undefined : { "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
  } catch {
    return { ok: false, message: "The web server could not be reached. Check your connection and try again." };
  }
  if (!response.ok) {
    if (response.status === 502) return { ok: false, message: unreachableMessage(service) };
    return { ok: false, message: await problemFromResponse(service, response) };
  }
  if (response.status === 204) return { ok: true, value: undefined as T };
  return { ok: true, value: (await response.json()) as T };
}
