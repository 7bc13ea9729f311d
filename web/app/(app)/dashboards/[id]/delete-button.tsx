"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { callFromBrowser } from "@/lib/request";

export function DeleteDashboardButton({ id, name }: { id: string; name: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function remove() {
    if (!window.confirm(`Delete the dashboard "${name}"? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    const reply = await callFromBrowser<void>("analytics", `dashboards/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (reply.ok) {
      router.push("/dashboards");
      router.refresh();
      return;
    }
    setBusy(false);
    setError(reply.message);
  }

  return (
    <>
      <button type="button" className="button button-danger" onClick={remove} disabled={busy}>
        {busy ? "Deleting…" : "Delete"}
      </button>
      {error ? (
        <p role="alert" className="notice notice-error">
          {error}
        </p>
      ) : null}
    </>
  );
}
