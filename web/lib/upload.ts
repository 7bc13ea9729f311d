/** A multipart upload through the same-origin proxy with XMLHttpRequest, whose upload.onprogress fetch lacks. */

import { problemFromResponse } from "./browser-api";
import { describeProblem, toProblem, unreachableMessage, type Problem } from "./problem";
import type { ServiceName } from "./config";
import { uploadProgress, type UploadProgress } from "./datasets";

export type UploadOutcome<T> =
  | { ok: true; status: number; value: T }
  | { ok: false; status: number; message: string; problem: Problem | null };

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
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (status >= 200 && status < 300) return { ok: true, status, value: body as T };
  if (status === 502) return { ok: false, status, message: unreachableMessage(service), problem: null };
  const problem = toProblem(status, body, text);
  const retry = Number(retryAfter);
  // The import's 422 names the file, line and column in `detail`: show it as the API says it.
  const aboutTheFile = problem.errors.every((item) => item.loc[0] === "file");
  const message =
    status === 422 && problem.detail && aboutTheFile
      ? problem.detail
      : describeProblem(service, problem, Number.isFinite(retry) && retry > 0 ? retry : null);
  return { ok: false, status, message, problem };
}

export function sendMultipart<T>(service: ServiceName, path: string, form: FormData, options: UploadOptions = {}): Promise<UploadOutcome<T>> {
  const xhr: XhrLike = options.createXhr ? options.createXhr() : (new XMLHttpRequest() as unknown as XhrLike);
  return new Promise((resolve) => {
    const url = `/api/${service}/${path.replace(/^\/+/, "")}`;
    xhr.open("POST", url);
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (event) => options.onProgress?.(uploadProgress(event.loaded, event.total, event.lengthComputable));
    xhr.onload = () => {
      if (xhr.status === 401) {
        // The shared path: it sends the browser to log in and back.
        void problemFromResponse(service, new Response(xhr.responseText, { status: 401 })).then((message) =>
          resolve({ ok: false, status: 401, message, problem: null }),
        );
        return;
      }
      resolve(readUploadReply<T>(service, xhr.status, xhr.responseText, xhr.getResponseHeader("retry-after")));
    };
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
