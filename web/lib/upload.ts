/** A multipart upload through the same-origin proxy with XMLHttpRequest, whose upload.onprogress fetch lacks;
 * its reply is read as lib/request.ts reads any other. */

import type { ServiceName } from "./config";
import { uploadProgress, type UploadProgress } from "./datasets";
import { ServiceUnavailableError } from "./problem";
import { browserTransport, buildUrl, failure, problemError, type DetailedResult } from "./request";

export type UploadOutcome<T> = DetailedResult<T>;

/** The parts of XMLHttpRequest used here, so a test can hand in a fake one. */
export interface XhrLike {
  upload: { onprogress: ((event: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  status: number;
  responseText: string;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: FormData): void;
  abort(): void;
}

export interface UploadOptions {
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
  createXhr?: () => XhrLike;
}

/** Reads a finished request into a value or a message naming what went wrong. */
export function readUploadReply<T>(service: ServiceName, status: number, text: string, retryAfter: string | null): UploadOutcome<T> {
  if (status >= 200 && status < 300) {
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    return { ok: true, status, value: body as T };
  }
  // The proxy's 502: it could not reach the service.
  if (status === 502) return failure(new ServiceUnavailableError(service));
  const error = problemError(service, status, text, retryAfter);
  const outcome = failure(error);
  // The import's 422 names the file, line and column in `detail` (and in its items): show it as the API says it.
  const aboutTheFile = error.problem.errors.every((item) => item.loc[0] === "file");
  if (status === 422 && error.problem.detail && aboutTheFile) return { ...outcome, message: error.problem.detail };
  return outcome;
}

export function sendMultipart<T>(service: ServiceName, path: string, form: FormData, options: UploadOptions = {}): Promise<UploadOutcome<T>> {
  const xhr: XhrLike = options.createXhr ? options.createXhr() : (new XMLHttpRequest() as unknown as XhrLike);
  return new Promise((resolve) => {
    xhr.open("POST", buildUrl(browserTransport(service).baseUrl, path));
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (event) => options.onProgress?.(uploadProgress(event.loaded, event.total, event.lengthComputable));
    xhr.onload = () => resolve(readUploadReply<T>(service, xhr.status, xhr.responseText, xhr.getResponseHeader("retry-after")));
    xhr.onerror = () =>
      resolve({
        ok: false,
        status: 0,
        message: "The upload could not reach the web server. Check your connection and try again.",
        problem: null,
      });
    xhr.onabort = () => resolve({ ok: false, status: 0, message: "The upload was cancelled.", problem: null });
    options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
