"use client";

import Link from "next/link";
import { useEffect, useRef, useState } from "react";

import { callFromBrowser } from "@/lib/request";
import { isFinished, jobPercent, progressText, resultLink, stateLabel, stateTone, type Job } from "@/lib/jobs";

import { ProgressBar, StateBadge } from "./progress-bar";

/** Follows one job (GET /api/v1/jobs/{id} every second) until it succeeds or fails; says so in words. */
export function JobWatch({
  jobId,
  title,
  onFinished,
  intervalMs = 1000,
}: {
  jobId: string;
  title: string;
  onFinished?: (job: Job) => void;
  intervalMs?: number;
}) {
  const [job, setJob] = useState<Job | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const finished = useRef(onFinished);
  useEffect(() => {
    finished.current = onFinished;
  });

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let failures = 0;
    async function poll() {
      const reply = await callFromBrowser<Job>("analytics", `jobs/${encodeURIComponent(jobId)}`);
      if (stopped) return;
      if (reply.ok) {
        failures = 0;
        setProblem(null);
        setJob(reply.value);
        if (isFinished(reply.value.state)) {
          finished.current?.(reply.value);
          return;
        }
      } else {
        failures += 1;
        setProblem(reply.message);
      }
      // Back off while the API cannot answer, but keep trying: the job goes on without us.
      timer = window.setTimeout(poll, failures === 0 ? intervalMs : Math.min(10_000, intervalMs * 2 ** failures));
    }
    void poll();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [jobId, intervalMs]);

  const link = job ? resultLink(job) : null;
  return (
    <section className="card stack" aria-labelledby={`job-${jobId}`} data-testid="job-watch" data-state={job?.state ?? "LOADING"}>
      <div className="spread">
        <h3 id={`job-${jobId}`}>{title}</h3>
        {job ? <StateBadge state={stateTone(job.state)} label={stateLabel(job.state)} /> : null}
      </div>
      {job && job.state !== "FAILURE" ? <ProgressBar percent={jobPercent(job)} label={`${title} progress`} /> : null}
      <p className={job?.state === "FAILURE" ? "notice notice-error" : "small"} role={job?.state === "FAILURE" ? "alert" : "status"} aria-live="polite">
        {job ? progressText(job) : "Checking the job…"}
      </p>
      {problem ? (
        <p className="notice notice-warn small" role="alert">
          {problem} Still checking.
        </p>
      ) : null}
      {link ? (
        <p>
          <Link href={link.href}>Open {link.label}</Link>
        </p>
      ) : null}
      <p className="small muted">
        Job <code>{jobId}</code> · <Link href="/jobs">All jobs</Link>
      </p>
    </section>
  );
}
