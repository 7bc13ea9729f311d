/** The same-origin proxy: browser calls to /api/analytics/* and /api/ml/* go on to the services with the
 * session's token, so the browser never holds the token and no CORS is needed. Bodies stream both ways. */

import { SERVICE_LABELS, serviceUrl, type ServiceName } from "./config";
import { unreachableMessage, type Problem } from "./problem";
import { isConnectionFailure } from "./request";
import { PURPOSE_COOKIE, PURPOSE_HEADER } from "./purpose";
import { SESSION_COOKIE } from "./session";

// x-forwarded-for: the browser's address as Next.js saw it; the services believe it from the web
// alone (FORWARDED_ALLOW_IPS), so their audit records name the browser, not the web.
const REQUEST_HEADERS = ["accept", "content-type", "content-length", "x-purpose", "if-none-match", "x-forwarded-for"];
const RESPONSE_HEADERS = ["content-type", "content-disposition", "x-cache", "retry-after", "etag", "content-length"];
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function problemResponse(status: number, title: string, detail: string): Response {
  const problem: Problem = { type: "about:blank", title, status, detail, errors: [] };
  return Response.json(problem, { status, headers: { "content-type": "application/problem+json" } });
}

function readCookie(header: string | null, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** A state-changing call must come from a page of this site (SameSite=Lax covers browsers; this covers the rest). */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** The service's URL under /api/v1; null for a path that would climb out of it ("..", "."). */
export function targetUrl(service: ServiceName, path: string[], search: string): string | null {
  if (path.some((segment) => segment === "." || segment === ".." || segment === "")) return null;
  const safe = path.map((segment) => encodeURIComponent(segment)).join("/");
  return `${serviceUrl(service)}/api/v1/${safe}${search}`;
}

export async function forward(service: ServiceName, request: Request, path: string[]): Promise<Response> {
  const token = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  if (token === null) return problemResponse(401, "Not signed in", "Your session has ended. Log in again.");
  if (UNSAFE_METHODS.has(request.method) && !sameOrigin(request)) {
    return problemResponse(403, "Not allowed", "Requests must come from this site.");
  }
  const target = targetUrl(service, path, new URL(request.url).search);
  if (target === null) return problemResponse(404, "Not found", `No such route: /api/${service}/${path.join("/")}`);
  const headers = new Headers({ authorization: `Bearer ${token}` });
  for (const name of REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  // The purpose of use stated for this browser session goes with every call, as on server-rendered pages.
  const purpose = readCookie(request.headers.get("cookie"), PURPOSE_COOKIE);
  if (purpose !== null && !headers.has(PURPOSE_HEADER)) headers.set(PURPOSE_HEADER, purpose);
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers,
      body: hasBody ? request.body : undefined,
      // Streams the upload instead of buffering it.
      duplex: "half",
      cache: "no-store",
      redirect: "manual",
      signal: request.signal,
    } as RequestInit & { duplex: "half" });
  } catch (error) {
    if (isConnectionFailure(error)) {
      return problemResponse(502, `${SERVICE_LABELS[service]} unreachable`, unreachableMessage(service));
    }
    throw error;
  }
  const replyHeaders = new Headers({ "cache-control": "no-store" });
  for (const name of RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) replyHeaders.set(name, value);
  }
  return new Response(upstream.body, { status: upstream.status, headers: replyHeaders });
}
