import { describe, expect, it } from "vitest";

import { readUploadReply, sendMultipart, type XhrLike } from "./upload";

class FakeXhr implements XhrLike {
  upload: XhrLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = "";
  opened: [string, string] | null = null;
  sent: FormData | null = null;
  constructor(private readonly reply: { status: number; body: string; progress?: [number, number][] } | "network") {}
  open(method: string, url: string) {
    this.opened = [method, url];
  }
  setRequestHeader() {}
  getResponseHeader() {
    return null;
  }
  send(body: FormData) {
    this.sent = body;
    queueMicrotask(() => {
      if (this.reply === "network") {
        this.onerror?.();
        return;
      }
      for (const [loaded, total] of this.reply.progress ?? []) this.upload.onprogress?.({ loaded, total, lengthComputable: true });
      this.status = this.reply.status;
      this.responseText = this.reply.body;
      this.onload?.();
    });
  }
  abort() {
    this.onabort?.();
  }
}

describe("multipart upload", () => {
  it("reports progress through the proxy and answers the job", async () => {
    const seen: (number | null)[] = [];
    const xhr = new FakeXhr({ status: 202, body: JSON.stringify({ dataset: "s", job_id: "j", duplicate: false }), progress: [[10, 40], [40, 40]] });
    const form = new FormData();
    const outcome = await sendMultipart("analytics", "datasets", form, { createXhr: () => xhr, onProgress: (p) => seen.push(p.percent) });
    expect(xhr.opened).toEqual(["POST", "/api/analytics/datasets"]);
    expect(seen).toEqual([25, 100]);
    expect(outcome).toEqual({ ok: true, status: 202, value: { dataset: "s", job_id: "j", duplicate: false } });
  });

  it("says when the web server cannot be reached", async () => {
    const outcome = await sendMultipart("analytics", "datasets", new FormData(), { createXhr: () => new FakeXhr("network") });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.message).toMatch(/could not reach/);
  });

  it("shows an import's 422 as the API words it, with its line", () => {
    const body = JSON.stringify({ type: "about:blank", title: "Invalid input", status: 422, detail: "bad.csv: line 3: expected 2 fields, found 3; fix the row or import with on_error=skip", errors: [{ loc: ["file"], msg: "line 3: expected 2 fields, found 3; fix the row or import with on_error=skip", file: "bad.csv", line: 3 }] });
    const outcome = readUploadReply("analytics", 422, body, null);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.message).toBe("bad.csv: line 3: expected 2 fields, found 3; fix the row or import with on_error=skip");
      expect(outcome.problem?.errors[0]).toMatchObject({ loc: ["file"], file: "bad.csv", line: 3 });
    }
  });

  it("names the service when the proxy cannot reach it", () => {
    const outcome = readUploadReply("analytics", 502, "{}", null);
    expect(!outcome.ok && outcome.message).toMatch(/Analytics API is not reachable/);
  });
});
