"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { JobWatch } from "@/components/jobs/job-watch";
import type { JobRequest } from "@/lib/jobs";
import { callFromBrowser } from "@/lib/request";

/** Starts the `profile` pipeline on a dataset (POST /api/v1/jobs) and follows it; the page reloads when done. */
export function ProfileButton({ dataset, label = "Compute the profile" }: { dataset: string; label?: string }) {
  const router = useRouter();
  const [jobId, setJobId] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  async function start() {
    setStarting(true);
    setProblem(null);
    // TODO(api-types): POST /api/v1/jobs reply (202) is untyped today.
    const reply = await callFromBrowser<{ job_id: string }>("analytics", "jobs", {
      method: "POST",
      json: { task: "process_data", args: { dataset, pipeline: "profile" } } satisfies JobRequest,
    });
    setStarting(false);
    if (reply.ok) setJobId(reply.value.job_id);
    else setProblem(reply.message);
  }

  return (
    <div className="stack">
      <div>
        <button type="button" className="button" onClick={start} disabled={starting || jobId !== null}>
          {starting ? "Starting…" : label}
        </button>
      </div>
      {problem ? (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      ) : null}
      {jobId ? (
        <JobWatch
          jobId={jobId}
          title={`Profile of ${dataset}`}
          onFinished={(job) => {
            if (job.state === "SUCCESS") {
              setJobId(null);
              router.refresh();
            }
          }}
        />
      ) : null}
    </div>
  );
}
