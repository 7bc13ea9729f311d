/**
 * Pages about one thing (a dataset, a model, a dashboard) and the API call that fetches it.
 *
 * The app layout makes that call before anything streams, so an unknown thing answers HTTP 404:
 * inside the page, the loading screen would already have gone out with a 200. The page then makes
 * the same call through `apiGetOnce` (lib/api.ts), which React memoises per request: the API is
 * asked once.
 */

import type { ServiceName } from "./config";
import { segment } from "./jobs";

export interface Subject {
  service: ServiceName;
  path: string;
}

/** Pages beside the detail pages, at the same depth, that name no thing. */
const STATIC_PAGES = new Set(["/datasets/upload", "/models/train", "/models/forecast", "/dashboards/new"]);

const DETAIL_PAGES: { pattern: RegExp; service: ServiceName; prefix: string }[] = [
  { pattern: /^\/datasets\/([^/]+)$/, service: "analytics", prefix: "/api/v1/datasets/" },
  { pattern: /^\/models\/([^/]+)$/, service: "ml", prefix: "/api/v1/models/" },
  { pattern: /^\/dashboards\/([^/]+)(?:\/edit)?$/, service: "analytics", prefix: "/api/v1/dashboards/" },
];

/** The API path of the thing a page path shows, or null for a page about no single thing. */
export function subjectOf(path: string): Subject | null {
  const pathname = path.split(/[?#]/)[0] ?? "/";
  if (STATIC_PAGES.has(pathname)) return null;
  for (const { pattern, service, prefix } of DETAIL_PAGES) {
    const param = pattern.exec(pathname)?.[1];
    // Encoded as the page encodes its own param, so both ask for the very same path.
    if (param !== undefined) return { service, path: subjectPath(prefix, param) };
  }
  return null;
}

/** `prefix` + the page's raw route param, decoded then encoded again, as pages build their API paths. */
export function subjectPath(prefix: string, rawParam: string): string {
  return `${prefix}${encodeURIComponent(segment(rawParam))}`;
}
