"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect } from "react";

const LABELS: Record<number, string> = { 0: "Off", 30: "Every 30 s", 60: "Every minute", 300: "Every 5 minutes" };

/** Re-renders the page on the server every few seconds; the choice stays in the URL. */
/** `renderedAt` is the server's render time: each refresh brings a new one. */
export function AutoRefresh({ seconds, choices, renderedAt }: { seconds: number; choices: number[]; renderedAt: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const search = useSearchParams();

  useEffect(() => {
    if (seconds <= 0) return;
    const timer = window.setInterval(() => router.refresh(), seconds * 1000);
    return () => window.clearInterval(timer);
  }, [seconds, router]);

  function choose(value: number) {
    const params = new URLSearchParams(search.toString());
    if (value > 0) params.set("refresh", String(value));
    else params.delete("refresh");
    router.replace(`${pathname}?${params.toString()}`);
  }

  return (
    <div className="row small">
      <label className="field">
        <span>Auto refresh</span>
        <select value={seconds} onChange={(event) => choose(Number(event.target.value))}>
          {choices.map((choice) => (
            <option key={choice} value={choice}>
              {LABELS[choice] ?? `${choice} s`}
            </option>
          ))}
        </select>
      </label>
      <button type="button" className="button button-small" onClick={() => router.refresh()}>
        Refresh now
      </button>
      <span className="muted" aria-live="polite" data-testid="rendered-at">
        Updated {renderedAt}
      </span>
    </div>
  );
}
