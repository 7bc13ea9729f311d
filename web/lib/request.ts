/**
 * The one way the web calls the platform's services, from the web server and from the browser alike: it sends
 * the request and reads an error reply's problem details into an ApiError (with its Retry-After), and a service
 * that cannot be reached into a ServiceUnavailableError.
 *
 * What differs is passed in as a `Transport`: on the web server, the service's own address and the session's
 * token (lib/api.ts adds them for pages); in the browser, the same-origin proxy (lib/forward.ts), whose cookie
 * carries the session, so page scripts never see the token. The browser's calls answer a message to show
 * instead of throwing (`callFromBrowser`, `callWithProblem`).
 */

import { serviceUrl, type ServiceName } from "./config";
import { ApiError, ServiceUnavailableError, toProblem, type Problem } from "./problem";

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Sent as `authorization: Bearer …`; the browser has none, its cookie goes to the proxy. */
  token?: string | null;
  json?: unknown;
  query?: Query;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Another address of the service than the transport's (tests). */
  baseUrl?: string;
}

/** Where a call goes, and what failing to get there means. */
export interface Transport {
  /** The service's address (web server), or the proxy's prefix for it, /api/<service> (browser). */
  baseUrl: string;
  /** Through the web's proxy: a failed fetch means the web server was not reached, and its 502 the service. */
  proxied: boolean;
  /** Give up after this long; none in the browser, where the proxy's own call to the service has one. */
  timeoutMs: number | null;
}

/** The web server's calls: straight to the service. */
export function serverTransport(service: ServiceName): Transport {
  return { baseUrl: serviceUrl(service), proxied: false, timeoutMs: 30_000 };
}

/** The browser's calls: through the same-origin proxy, which adds /api/v1 and the session's token. */
export function browserTransport(service: ServiceName): Transport {
  return { baseUrl: `/api/${service}`, proxied: true, timeoutMs: null };
}

export const SESSION_ENDED = "Your session has ended. Log in again.";

/** `base` and `path` joined, with the query parameters that are set. */
export function buildUrl(base: string, path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const search = params.toString() === "" ? "" : `?${params.toString()}`;
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}${search}`;
}

/** Network-level failure of fetch: refused, reset, DNS, timeout. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "TimeoutError" || error.name === "AbortError") return true;
  return error instanceof TypeError && /fetch failed|network|ECONNREFUSED|ENOTFOUND|socket/i.test(error.message);
}

/** A JSON call; throws ApiError for an error status, ServiceUnavailableError when the service cannot be reached. */
export async function callService<T>(
  service: ServiceName,
  path: string,
  options: CallOptions = {},
  transport: Transport = serverTransport(service),
): Promise<T> {
  return readJson<T>(await sendToService(service, path, options, transport));
}

/** The request, answering the response when it is a success; throws as `callService` does. */
export async function sendToService(
  service: ServiceName,
  path: string,
  options: CallOptions = {},
  transport: Transport = serverTransport(service),
): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const timeoutMs = options.timeoutMs ?? transport.timeoutMs;
  let response: Response;
  try {
    response = await fetch(buildUrl(options.baseUrl ?? transport.baseUrl, path, options.query), {
      method: options.method ?? "GET",
      headers,
      body,
      cache: "no-store",
      signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if (transport.proxied) throw new ServiceUnavailableError(service, error, "web");
    if (isConnectionFailure(error)) throw new ServiceUnavailableError(service, error);
    throw error;
  }
  if (!response.ok) throw await errorFromResponse(service, response, transport);
  return response;
}

async function readJson<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** An error reply as the error it means: the proxy's 502 is a service it could not reach. */
export async function errorFromResponse(
  service: ServiceName,
  response: Response,
  transport: Pick<Transport, "proxied"> = { proxied: false },
): Promise<ApiError | ServiceUnavailableError> {
  if (transport.proxied && response.status === 502) return new ServiceUnavailableError(service);
  return problemError(service, response.status, await response.text(), response.headers.get("retry-after"));
}

/** An error status and its body (problem details or not) as an ApiError, with Retry-After in seconds. */
export function problemError(service: ServiceName, status: number, text: string, retryAfter: string | null): ApiError {
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const retry = Number(retryAfter ?? "");
  return new ApiError(service, toProblem(status, body, text), Number.isFinite(retry) && retry > 0 ? retry : null);
}

/** The session has ended: a full load of the login page, which sends the user back here afterwards. */
export function toLoginPage(): void {
  if (typeof window === "undefined") return;
  const next = window.location.pathname + window.location.search;
  // A full load, so the login page starts without this page's client state.
  // eslint-disable-next-line @next/next/no-location-assign-relative-destination
  window.location.assign(`/login?next=${encodeURIComponent(next)}&reason=expired`);
}

export type BrowserResult<T> = { ok: true; value: T } | { ok: false; message: string };

export type DetailedResult<T> =
  | { ok: true; status: number; value: T }
  | { ok: false; status: number; message: string; problem: Problem | null };

export type BrowserCall = Pick<CallOptions, "method" | "json" | "query">;

/** A browser call's failure as a message to show (and the problem details, for forms that show each field's
 * error); a 401 sends the user to log in and back. */
export function failure(error: unknown): Extract<DetailedResult<never>, { ok: false }> {
  if (error instanceof ServiceUnavailableError) {
    return { ok: false, status: error.unreachable === "web" ? 0 : 502, message: error.message, problem: null };
  }
  if (error instanceof ApiError) {
    if (error.status === 401) {
      toLoginPage();
      return { ok: false, status: 401, message: SESSION_ENDED, problem: error.problem };
    }
    return { ok: false, status: error.status, message: error.message, problem: error.problem };
  }
  throw error;
}

/** A JSON call from a client component that keeps the problem details of an error. Never throws. */
export async function callWithProblem<T>(service: ServiceName, path: string, init: BrowserCall = {}): Promise<DetailedResult<T>> {
  try {
    const response = await sendToService(service, path, init, browserTransport(service));
    return { ok: true, status: response.status, value: await readJson<T>(response) };
  } catch (error) {
    return failure(error);
  }
}

/** A JSON call from a client component; never throws, answers a message to show instead. */
export async function callFromBrowser<T>(service: ServiceName, path: string, init: BrowserCall = {}): Promise<BrowserResult<T>> {
  const result = await callWithProblem<T>(service, path, init);
  return result.ok ? { ok: true, value: result.value } : { ok: false, message: result.message };
}
