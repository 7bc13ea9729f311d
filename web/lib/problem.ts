/** Problem details (RFC 9457) from the platform's APIs, and the plain words a page shows for them. */

import type { components } from "./api/analytics";
import { SERVICE_LABELS, type ServiceName } from "./config";
import { needsPurpose } from "./purpose";

/** One itemised cause: where (`loc`) and what (`msg`); a refused file's also names the `file`, and where known
 * its `line` and `column`; a refused prediction batch's, a sample of its `rows`. */
export type ProblemItem = components["schemas"]["ErrorItem"];

/** Problem details as the pages read them: `toProblem` always gives a `type` and `errors`. */
export type Problem = Required<components["schemas"]["Problem"]>;

/** An API answered with an error status. */
export class ApiError extends Error {
  readonly service: ServiceName;
  readonly problem: Problem;
  readonly retryAfter: number | null;

  constructor(service: ServiceName, problem: Problem, retryAfter: number | null = null) {
    super(describeProblem(service, problem, retryAfter));
    this.name = "ApiError";
    this.service = service;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  get status(): number {
    return this.problem.status;
  }
}

/** The API says there is no such thing: unknown (404), or a name or id it could never be (422). */
export function isMissing(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 404 || error.status === 422);
}

export const WEB_UNREACHABLE = "The web server could not be reached. Check your connection and try again.";

/** A service could not be reached at all (down, wrong address, timed out); from the browser, `unreachable`
 * says whether the web server in between was not reached either. */
export class ServiceUnavailableError extends Error {
  readonly service: ServiceName;
  readonly unreachable: "service" | "web";

  constructor(service: ServiceName, cause?: unknown, unreachable: "service" | "web" = "service") {
    super(unreachable === "web" ? WEB_UNREACHABLE : unreachableMessage(service), { cause });
    this.name = "ServiceUnavailableError";
    this.service = service;
    this.unreachable = unreachable;
  }
}

export function unreachableMessage(service: ServiceName): string {
  return `The ${SERVICE_LABELS[service]} is not reachable right now. It may be down or restarting; try again in a moment.`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asItems(value: unknown): ProblemItem[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item): ProblemItem[] => {
    if (!isRecord(item) || typeof item.msg !== "string") return [];
    const loc = Array.isArray(item.loc)
      ? item.loc.filter((part): part is string | number => typeof part === "string" || typeof part === "number")
      : [];
    const read: ProblemItem = { loc, msg: item.msg };
    if (typeof item.file === "string") read.file = item.file;
    if (typeof item.line === "number" && Number.isInteger(item.line)) read.line = item.line;
    if (typeof item.column === "string") read.column = item.column;
    if (Array.isArray(item.rows)) read.rows = item.rows.filter((row): row is number => typeof row === "number");
    return [read];
  });
}

/** Reads any error body into a Problem; a body that is not problem details still gives a usable one. */
export function toProblem(status: number, body: unknown, fallbackText = ""): Problem {
  if (isRecord(body)) {
    const detail = body.detail;
    return {
      type: typeof body.type === "string" ? body.type : "about:blank",
      title: typeof body.title === "string" ? body.title : statusTitle(status),
      status: typeof body.status === "number" ? body.status : status,
      // FastAPI's own errors put a list in `detail`.
      detail: typeof detail === "string" ? detail : "",
      errors: asItems(body.errors ?? (Array.isArray(detail) ? detail : undefined)),
    };
  }
  return { type: "about:blank", title: statusTitle(status), status, detail: fallbackText.slice(0, 300), errors: [] };
}

export function statusTitle(status: number): string {
  const titles: Record<number, string> = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Timed out",
  };
  return titles[status] ?? `Error ${status}`;
}

/** Where a field error sits, without the `body` prefix FastAPI adds. */
export function fieldName(loc: (string | number)[]): string {
  const parts = loc[0] === "body" || loc[0] === "query" || loc[0] === "path" ? loc.slice(1) : loc;
  return parts
    .map((part, index) => (typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join("");
}

/** Request validation names a field (`body.horizon`) and says little (`Field required`); the
 * platform's own items (`features`, `file`) carry a whole sentence that names the place already. */
const REQUEST_PARTS = new Set<string | number>(["body", "query", "path", "header"]);

/** One problem item as words: the field before a validation message, a domain message as it is. */
export function itemMessage(item: ProblemItem): string {
  if (REQUEST_PARTS.has(item.loc[0] ?? "")) {
    const field = fieldName(item.loc);
    return field ? `${field}: ${item.msg}` : item.msg;
  }
  return capitalize(item.msg);
}

/** One sentence (or a few) a person can act on. */
export function describeProblem(service: ServiceName, problem: Problem, retryAfter: number | null = null): string {
  const label = SERVICE_LABELS[service];
  const detail = problem.detail.trim();
  switch (problem.status) {
    case 401:
      return detail && detail !== "Not authenticated" ? `${capitalize(detail)}.` : "Your session has ended. Log in again.";
    case 403:
      if (needsPurpose(problem.status, detail)) {
        return "This data holds PHI: state your purpose of use (Purpose, at the top of the page), then try again.";
      }
      return `You do not have permission for this${detail ? `: ${detail}` : "."}`;
    case 404:
      return detail ? `Not found: ${detail}` : "Not found.";
    case 413:
      return detail ? `Too large: ${detail}` : "The request is too large.";
    case 429:
      return retryAfter !== null
        ? `Too many attempts. Try again in ${retryAfter} seconds.`
        : "Too many attempts. Wait a little and try again.";
    case 502:
    case 503:
    case 504:
      return detail ? `The ${label} could not answer: ${detail}` : `The ${label} is unavailable right now.`;
    default:
      break;
  }
  if (problem.status >= 500) {
    return `The ${label} had an internal error${detail ? `: ${detail}` : "."}`;
  }
  if (problem.errors.length > 0 && (problem.status === 422 || problem.status === 400)) {
    return `Please check the input. ${problem.errors.map(itemMessage).join("; ")}`;
  }
  return detail ? capitalize(detail) : problem.title;
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

/** Whatever was thrown, as a message for the page. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError || error instanceof ServiceUnavailableError) return error.message;
  return "Something went wrong. Try again, and if it keeps happening, check the platform's logs.";
}
