/** Calls to the Analytics API and the ML service from the web server, with typed errors. */

import { serviceUrl, type ServiceName } from "./config";
import { ApiError, ServiceUnavailableError, toProblem } from "./problem";

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  token?: string | null;
  json?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  timeoutMs?: number;
  baseUrl?: string;
}

export function buildUrl(base: string, path: string, query?: CallOptions["query"]): string {
  const url = new URL(path.startsWith("/") ? path : `/${path}`, `${base}/`);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/** Network-level failure of fetch: refused, reset, DNS, timeout. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "TimeoutError" || error.name === "AbortError") return true;
  return error instanceof TypeError && /fetch failed|network|ECONNREFUSED|ENOTFOUND|socket/i.test(error.message);
}

/** A JSON call; throws ApiError for an error status, ServiceUnavailableError when the service cannot be reached. */
export async function callService<T>(service: ServiceName, path: string, options: CallOptions = {}): Promise<T> {
  const response = await sendToService(service, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function sendToService(service: ServiceName, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const url = buildUrl(options.baseUrl ?? serviceUrl(service), path, options.query);
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers,
      body,
      cache: "no-store",
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw new ServiceUnavailableError(service, error);
    throw error;
  }
  if (!response.ok) throw await errorFromResponse(service, response);
  return response;
}

export async function errorFromResponse(service: ServiceName, response: Response): Promise<ApiError> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get("retry-after"));
  return new ApiError(service, toProblem(response.status, body, text), Number.isFinite(retry) && retry > 0 ? retry : null);
}
