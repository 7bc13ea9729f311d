"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { problemFromResponse } from "@/lib/browser-api";

export function DeleteDashboardButton({ id, name }: { id: string; name: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function remove() {
    if (!window.confirm(`Delete the dashboard "${name}"? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    const response = await fetch(`/api/analytics/dashboards/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (response.ok) {
      router.push("/dashboards");
      router.refresh();
      return;
    }
    setBusy(false);
    setError(await problemFromResponse("analytics", response));
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
