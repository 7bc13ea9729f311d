"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { callFromBrowser } from "@/lib/request";
import { COLUMN_ROLES, TIME_TYPES, type ColumnRole, type ColumnsPatch, type DatasetColumn } from "@/lib/datasets";

interface Draft {
  role: ColumnRole;
  phi: boolean;
}

/** The dataset's columns with type, role and PHI flag; editable by who may write datasets (PHI flags need phi:read). */
export function SchemaTable({
  dataset,
  columns,
  canEdit,
  canEditPhi,
}: {
  dataset: string;
  columns: DatasetColumn[];
  canEdit: boolean;
  canEditPhi: boolean;
}) {
  const router = useRouter();
  const [editing, setEditing] = useState(false);
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ tone: "error" | "info"; text: string } | null>(null);

  function start() {
    setDrafts(Object.fromEntries(columns.map((column) => [column.name, { role: column.role, phi: column.phi }])));
    setMessage(null);
    setEditing(true);
  }

  function change(name: string, patch: Partial<Draft>) {
    setDrafts((current) => ({ ...current, [name]: { ...current[name]!, ...patch } }));
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    const changes = columns.flatMap((column) => {
      const draft = drafts[column.name];
      if (!draft) return [];
      const item: { name: string; role?: ColumnRole; phi?: boolean } = { name: column.name };
      if (draft.role !== column.role) item.role = draft.role;
      if (draft.phi !== column.phi) item.phi = draft.phi;
      return item.role === undefined && item.phi === undefined ? [] : [item];
    });
    if (changes.length === 0) {
      setEditing(false);
      setMessage({ tone: "info", text: "Nothing changed." });
      return;
    }
    setSaving(true);
    // TODO(api-types): PATCH /api/v1/datasets/{name}/columns reply is untyped today.
    const reply = await callFromBrowser<{ columns: DatasetColumn[] }>("analytics", `datasets/${encodeURIComponent(dataset)}/columns`, {
      method: "PATCH",
      json: { columns: changes } satisfies ColumnsPatch,
    });
    setSaving(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return;
    }
    setEditing(false);
    setMessage({ tone: "info", text: `Saved ${changes.length} column${changes.length === 1 ? "" : "s"}.` });
    router.refresh();
  }

  return (
    <form className="stack" onSubmit={save}>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={`Columns of ${dataset}`}>
        <table>
          <caption className="sr-only">Columns of {dataset}</caption>
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Type</th>
              <th scope="col">Role</th>
              <th scope="col">PHI</th>
              <th scope="col">In the file</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((column) => {
              const draft = drafts[column.name];
              return (
                <tr key={column.name}>
                  <th scope="row">{column.name}</th>
                  <td>{column.type}</td>
                  <td>
                    {editing && draft ? (
                      <select
                        aria-label={`Role of ${column.name}`}
                        value={draft.role}
                        onChange={(event) => change(column.name, { role: event.target.value as ColumnRole })}
                      >
                        {COLUMN_ROLES.filter((role) => role !== "time" || TIME_TYPES.includes(column.type)).map((role) => (
                          <option key={role} value={role}>
                            {role}
                          </option>
                        ))}
                      </select>
                    ) : (
                      column.role
                    )}
                  </td>
                  <td>
                    {editing && draft ? (
                      <label className="check">
                        <input
                          type="checkbox"
                          checked={draft.phi}
                          disabled={!canEditPhi}
                          aria-label={`${column.name} is PHI`}
                          onChange={(event) => change(column.name, { phi: event.target.checked })}
                        />
                        PHI
                      </label>
                    ) : column.phi ? (
                      <span className="badge badge-phi">PHI</span>
                    ) : (
                      <span className="muted">no</span>
                    )}
                  </td>
                  <td className="muted">{column.source_name}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {message ? (
        <p className={`notice notice-${message.tone}`} role={message.tone === "error" ? "alert" : "status"}>
          {message.text}
        </p>
      ) : null}
      {canEdit ? (
        <div className="row">
          {editing ? (
            <>
              {/* Keys keep React from turning the clicked "Edit" button into this submit button mid-click. */}
              <button key="save" type="submit" className="button button-primary" disabled={saving}>
                {saving ? "Saving…" : "Save columns"}
              </button>
              <button key="cancel" type="button" className="button" onClick={() => setEditing(false)} disabled={saving}>
                Cancel
              </button>
              {!canEditPhi ? <span className="small muted">Changing PHI flags needs the permission phi:read.</span> : null}
            </>
          ) : (
            <button key="edit" type="button" className="button" onClick={start}>
              Edit roles and PHI flags
            </button>
          )}
        </div>
      ) : null}
    </form>
  );
}
