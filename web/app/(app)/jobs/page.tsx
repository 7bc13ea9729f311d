import type { Metadata } from "next";
import Link from "next/link";

import { EmptyState, ErrorNotice } from "@/components/error-notice";
import { ProgressBar, StateBadge } from "@/components/jobs/progress-bar";
import { RefreshWhile } from "@/components/jobs/refresh-while";
import { ScheduleToggle } from "@/components/jobs/schedule-toggle";
import { api, can, requirePermission, settle } from "@/lib/api";
import {
  anyRunning,
  formatTime,
  isRunning,
  jobPercent,
  jobSubject,
  progressText,
  resultLink,
  stateLabel,
  stateTone,
  taskLabel,
  type Job,
  type Schedule,
} from "@/lib/jobs";
import type { Page } from "@/lib/types";

export const metadata: Metadata = { title: "Jobs" };

export default async function JobsPage() {
  const user = await requirePermission("jobs:run");
  const [jobs, schedules] = await Promise.all([
    settle(api<Page<Job>>("analytics", "/api/v1/jobs", { query: { limit: 50 } })),
    settle(api<Page<Schedule>>("analytics", "/api/v1/schedules")),
  ]);
  const running = jobs.ok && anyRunning(jobs.value.items);
  const canChange = can(user, "users:manage");
  return (
    <div className="stack">
      <h1>Jobs</h1>
      <section className="card stack" aria-labelledby="recent">
        <div className="spread">
          <h2 id="recent">Recent jobs</h2>
          <RefreshWhile active={running} renderedAt={`${new Date().toISOString().slice(11, 19)} UTC`} />
        </div>
        {!jobs.ok ? (
          <ErrorNotice error={jobs.error} title="The jobs could not be loaded" />
        ) : jobs.value.items.length === 0 ? (
          <EmptyState>No jobs yet. Imports, trainings and pipelines show here.</EmptyState>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Recent jobs">
            <table className="stack-table" data-testid="jobs-table">
              <caption className="sr-only">Recent jobs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Submitted</th>
                  <th scope="col">Task</th>
                  <th scope="col" className="wrap">
                    What
                  </th>
                  <th scope="col">State</th>
                  <th scope="col" className="wrap">
                    Progress
                  </th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                {jobs.value.items.map((job) => {
                  const link = resultLink(job);
                  return (
                    <tr key={job.id} data-job-id={job.id} data-task={job.task}>
                      <td data-label="Submitted">{formatTime(job.submitted_at)}</td>
                      <td data-label="Task">{taskLabel(job.task)}</td>
                      <td data-label="What" className="wrap">
                        {jobSubject(job) || <span className="muted">—</span>}
                        {link ? (
                          <>
                            {" · "}
                            <Link href={link.href}>{link.label}</Link>
                          </>
                        ) : null}
                      </td>
                      <td data-label="State">
                        <StateBadge state={stateTone(job.state)} label={stateLabel(job.state)} />
                      </td>
                      <td data-label="Progress" className="wrap">
                        {isRunning(job.state) ? (
                          <span className="stack" style={{ gap: "0.25rem" }}>
                            <ProgressBar percent={jobPercent(job)} label={`${taskLabel(job.task)} progress`} />
                            <span className="small">{progressText(job)}</span>
                          </span>
                        ) : job.state === "FAILURE" ? (
                          <span className="small" style={{ color: "var(--bad)" }}>
                            {progressText(job)}
                          </span>
                        ) : (
                          <span className="small muted">{job.state === "SUCCESS" ? "Finished" : progressText(job)}</span>
                        )}
                      </td>
                      <td data-label="By">{job.submitted_by ?? "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card stack" aria-labelledby="schedules">
        <h2 id="schedules">Schedules</h2>
        {!schedules.ok ? (
          <ErrorNotice error={schedules.error} title="The schedules could not be loaded" />
        ) : schedules.value.items.length === 0 ? (
          <EmptyState>No schedules.</EmptyState>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Schedules">
            <table className="stack-table">
              <caption className="sr-only">Schedules (crontab in UTC)</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Task</th>
                  <th scope="col">When (UTC)</th>
                  <th scope="col">State</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Next run</th>
                  {canChange ? <th scope="col">Change</th> : null}
                </tr>
              </thead>
              <tbody>
                {schedules.value.items.map((schedule) => (
                  <tr key={schedule.name}>
                    <th scope="row" title={schedule.description}>
                      {schedule.name}
                      {schedule.description ? <div className="small muted" style={{ whiteSpace: "normal" }}>{schedule.description}</div> : null}
                    </th>
                    <td data-label="Task">{taskLabel(schedule.task)}</td>
                    <td data-label="When (UTC)">
                      <code>{schedule.crontab}</code>
                    </td>
                    <td data-label="State">
                      <StateBadge state={schedule.enabled ? "ok" : "down"} label={schedule.enabled ? "On" : "Off"} />
                    </td>
                    <td data-label="Last run">{formatTime(schedule.last_run_at)}</td>
                    <td data-label="Next run">{schedule.enabled ? formatTime(schedule.next_run_at) : "—"}</td>
                    {canChange ? (
                      <td data-label="Change">
                        <ScheduleToggle schedule={schedule} />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {!canChange ? <p className="small muted">Only administrators turn schedules on or off.</p> : null}
      </section>
    </div>
  );
}
