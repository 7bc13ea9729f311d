"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

/** Re-renders the page every few seconds while `active` (some job still runs); says so, and stops after.
 * `renderedAt` is the server's time of this rendering, so the line changes with each refresh. */
export function RefreshWhile({ active, renderedAt, seconds = 3 }: { active: boolean; renderedAt: string; seconds?: number }) {
  const router = useRouter();

  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => router.refresh(), seconds * 1000);
    return () => window.clearInterval(timer);
  }, [active, seconds, router]);

  return (
    <div className="row small">
      <span className="muted" aria-live="polite">
        {active ? `Some jobs are running; refreshing every ${seconds} s.` : "No job is running."} Updated {renderedAt}.
      </span>
      <button type="button" className="button button-small" onClick={() => router.refresh()}>
        Refresh now
      </button>
    </div>
  );
}
