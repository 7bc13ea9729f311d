"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { PERMISSIONS, type NewRole, type Role, type RoleChange } from "@/lib/admin";
import { callFromBrowser } from "@/lib/request";

type Message = { tone: "error" | "info"; text: string } | null;

function Notice({ message }: { message: Message }) {
  if (!message) return null;
  return (
    <p className={`notice notice-${message.tone}`} role={message.tone === "error" ? "alert" : "status"}>
      {message.text}
    </p>
  );
}

function PermissionChecks({ chosen, onChange, legend }: { chosen: string[]; onChange: (value: string[]) => void; legend: string }) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div className="checks">
        {PERMISSIONS.map((permission) => (
          <label key={permission}>
            <input
              type="checkbox"
              checked={chosen.includes(permission)}
              onChange={(event) =>
                onChange(event.target.checked ? [...chosen, permission] : chosen.filter((item) => item !== permission))
              }
            />
            {permission}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** POST /api/v1/roles: a role of your own with its permissions. */
export function CreateRoleForm() {
  const router = useRouter();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [permissions, setPermissions] = useState<string[]>(["datasets:read", "metrics:read", "queries:run", "dashboards:read"]);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<Message>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
      setMessage({ tone: "error", text: "A role name is lowercase letters, digits and _, starting with a letter." });
      return;
    }
    setBusy(true);
    const reply = await callFromBrowser<Role>("analytics", "roles", { method: "POST", json: { name, description, permissions } satisfies NewRole });
    setBusy(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return;
    }
    setMessage({ tone: "info", text: `Created role ${reply.value.name}.` });
    setName("");
    setDescription("");
    router.refresh();
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Add a role">
      <div className="form-grid">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(event) => setName(event.target.value)} autoComplete="off" />
        </label>
        <label className="field">
          <span>Description</span>
          <input value={description} onChange={(event) => setDescription(event.target.value)} maxLength={500} />
        </label>
      </div>
      <PermissionChecks chosen={permissions} onChange={setPermissions} legend="Permissions" />
      <div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Adding…" : "Add role"}
        </button>
      </div>
      <Notice message={message} />
    </form>
  );
}

/** PATCH (description, permissions) or DELETE a role; built-in roles are fixed. */
export function RoleActions({ role }: { role: Role }) {
  const router = useRouter();
  const [description, setDescription] = useState(role.description);
  const [permissions, setPermissions] = useState(role.permissions);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<Message>(null);
  const path = `roles/${encodeURIComponent(role.name)}`;

  async function save(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    const reply = await callFromBrowser<Role>("analytics", path, { method: "PATCH", json: { description, permissions } satisfies RoleChange });
    setBusy(false);
    setMessage(reply.ok ? { tone: "info", text: "Saved; it applies to the next request of everyone holding the role." } : { tone: "error", text: reply.message });
    if (reply.ok) router.refresh();
  }

  async function remove() {
    setBusy(true);
    const reply = await callFromBrowser<void>("analytics", path, { method: "DELETE" });
    setBusy(false);
    setConfirming(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return;
    }
    router.refresh();
  }

  return (
    <details>
      <summary>Change {role.name}</summary>
      <form className="stack" onSubmit={save} style={{ paddingTop: "0.5rem" }}>
        <label className="field">
          <span>Description</span>
          <input value={description} onChange={(event) => setDescription(event.target.value)} maxLength={500} />
        </label>
        <PermissionChecks chosen={permissions} onChange={setPermissions} legend={`Permissions of ${role.name}`} />
        <div className="row">
          <button type="submit" className="button button-small button-primary" disabled={busy}>
            Save
          </button>
          {confirming ? (
            <>
              <button type="button" className="button button-small button-danger" onClick={remove} disabled={busy}>
                Yes, remove {role.name}
              </button>
              <button type="button" className="button button-small" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" className="button button-small button-danger" onClick={() => setConfirming(true)} disabled={busy}>
              Remove role
            </button>
          )}
        </div>
        <Notice message={message} />
      </form>
    </details>
  );
}
