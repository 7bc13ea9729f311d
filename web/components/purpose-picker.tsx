"use client";

import { usePathname, useSearchParams } from "next/navigation";
import { useActionState, useState } from "react";

import { setPurpose, type PurposeState } from "@/app/login/actions";
import { PURPOSES } from "@/lib/purpose";

/** HIPAA mode: the purpose of use stated for this browser session, and the form to state or change it. */
export function PurposePicker({ current }: { current: string | null }) {
  const [state, action, pending] = useActionState<PurposeState, FormData>(setPurpose, { error: null });
  const known = PURPOSES.some((item) => item.value === current);
  const [choice, setChoice] = useState<string>(current === null ? "" : known ? current : "other");
  const pathname = usePathname();
  const search = useSearchParams().toString();
  return (
    <details className="purpose" open={current === null ? true : undefined}>
      <summary>
        Purpose: <strong>{current ?? "not stated"}</strong>
      </summary>
      <form action={action} className="purpose-form">
        <input type="hidden" name="next" value={search ? `${pathname}?${search}` : pathname} />
        <label className="field">
          <span>Purpose of use (sent with each read of PHI and kept in the audit log)</span>
          <select name="purpose" value={choice} onChange={(event) => setChoice(event.target.value)} required>
            <option value="" disabled>
              Choose…
            </option>
            {PURPOSES.map((item) => (
              <option key={item.value} value={item.value}>
                {item.label} ({item.value})
              </option>
            ))}
            <option value="other">Another code or a ticket number</option>
          </select>
        </label>
        {choice === "other" ? (
          <label className="field">
            <span>Code or ticket number (no patient details)</span>
            <input name="other" defaultValue={known ? "" : (current ?? "")} maxLength={64} required />
          </label>
        ) : null}
        {state.error ? (
          <p role="alert" className="notice notice-error">
            {state.error}
          </p>
        ) : null}
        <button type="submit" className="button button-small" disabled={pending}>
          {pending ? "Saving…" : "Use this purpose"}
        </button>
      </form>
    </details>
  );
}
