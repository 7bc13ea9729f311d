"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import type { AliasRequest } from "@/lib/models";
import { callFromBrowser } from "@/lib/request";

/** Points an alias (production by default) at a version: POST /models/{name}/aliases/{alias}. */
export function AliasForm({ model, versions, aliases }: { model: string; versions: number[]; aliases: Record<string, number> }) {
  const router = useRouter();
  const [alias, setAlias] = useState("production");
  const [version, setVersion] = useState(versions[0] ?? 1);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: "error" | "info"; text: string } | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const name = alias.trim();
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
      setMessage({ tone: "error", text: "An alias is lowercase letters, digits and _, starting with a letter." });
      return;
    }
    setBusy(true);
    setMessage(null);
    // TODO(api-types): POST /api/v1/models/{name}/aliases/{alias} (ml) reply is untyped today.
    const reply = await callFromBrowser<{ alias: string; version: number }>(
      "ml",
      `models/${encodeURIComponent(model)}/aliases/${encodeURIComponent(name)}`,
      { method: "POST", json: { version } satisfies AliasRequest },
    );
    setBusy(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return;
    }
    const before = aliases[name];
    setMessage({
      tone: "info",
      text:
        before === undefined
          ? `${name} now names version ${version}.`
          : before === version
            ? `${name} already named version ${version}.`
            : `${name} moved from version ${before} to version ${version}.`,
    });
    router.refresh();
  }

  return (
    <form className="stack" onSubmit={submit} aria-label="Point an alias at a version">
      <div className="row">
        <label className="field">
          <span>Alias</span>
          <input value={alias} onChange={(event) => setAlias(event.target.value)} list="alias-names" autoComplete="off" />
          <datalist id="alias-names">
            {["production", "staging", ...Object.keys(aliases)].filter((v, i, all) => all.indexOf(v) === i).map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label className="field">
          <span>Version</span>
          <select value={version} onChange={(event) => setVersion(Number(event.target.value))}>
            {versions.map((number) => (
              <option key={number} value={number}>
                {`Version ${number}`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Saving…" : "Point alias"}
        </button>
      </div>
      {message ? (
        <p className={`notice notice-${message.tone}`} role={message.tone === "error" ? "alert" : "status"}>
          {message.text}
        </p>
      ) : null}
    </form>
  );
}
