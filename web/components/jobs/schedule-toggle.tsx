"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { callFromBrowser } from "@/lib/request";
import type { Schedule, SchedulePatch } from "@/lib/jobs";

/** Turns a schedule on or off: PATCH /api/v1/schedules/{name} {enabled}. */
export function ScheduleToggle({ schedule }: { schedule: Schedule }) {
  const router = useRouter();
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  async function toggle() {
    setBusy(true);
    setProblem(null);
    const reply = await callFromBrowser<Schedule>("analytics", `schedules/${encodeURIComponent(schedule.name)}`, {
      method: "PATCH",
      json: { enabled: !enabled } satisfies SchedulePatch,
    });
    setBusy(false);
    if (!reply.ok) {
      setProblem(reply.message);
      return;
    }
    setEnabled(reply.value.enabled);
    router.refresh();
  }

  return (
    <span className="stack" style={{ gap: "0.25rem" }}>
      <button
        type="button"
        className={enabled ? "button button-small" : "button button-small button-primary"}
        onClick={toggle}
        disabled={busy}
        aria-label={`${enabled ? "Turn off" : "Turn on"} schedule ${schedule.name}`}
      >
        {busy ? "Saving…" : enabled ? "Turn off" : "Turn on"}
      </button>
      {problem ? (
        <span className="field-error" role="alert">
          {problem}
        </span>
      ) : null}
    </span>
  );
}
