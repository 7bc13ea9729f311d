"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { MIN_PASSWORD_LENGTH, usernameProblem, type NewUser, type RoleAssignment, type User, type UserChange } from "@/lib/admin";
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

function RoleChecks({ roles, chosen, onChange, legend }: { roles: string[]; chosen: string[]; onChange: (roles: string[]) => void; legend: string }) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div className="checks">
        {roles.map((role) => (
          <label key={role}>
            <input
              type="checkbox"
              name="roles"
              value={role}
              checked={chosen.includes(role)}
              onChange={(event) => onChange(event.target.checked ? [...chosen, role] : chosen.filter((item) => item !== role))}
            />
            {role}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** POST /api/v1/users: a new, active user with a password and roles. */
export function CreateUserForm({ roles }: { roles: string[] }) {
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [chosen, setChosen] = useState<string[]>(roles.includes("viewer") ? ["viewer"] : []);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<Message>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problem =
      usernameProblem(username) ??
      (password.length < MIN_PASSWORD_LENGTH ? `The password needs at least ${MIN_PASSWORD_LENGTH} characters.` : null);
    if (problem) {
      setMessage({ tone: "error", text: problem });
      return;
    }
    setBusy(true);
    const reply = await callFromBrowser<User>("analytics", "users", { method: "POST", json: { username, password, roles: chosen } satisfies NewUser });
    setBusy(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return;
    }
    setMessage({ tone: "info", text: `Created ${reply.value.username} with roles ${reply.value.roles.join(", ") || "none"}.` });
    setUsername("");
    setPassword("");
    router.refresh();
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Create a user">
      <div className="form-grid">
        <label className="field">
          <span>Username</span>
          <input name="username" value={username} onChange={(event) => setUsername(event.target.value)} autoComplete="off" />
        </label>
        <label className="field">
          <span>{`Password (at least ${MIN_PASSWORD_LENGTH} characters)`}</span>
          <input name="password" type="password" value={password} onChange={(event) => setPassword(event.target.value)} autoComplete="new-password" />
        </label>
      </div>
      <RoleChecks roles={roles} chosen={chosen} onChange={setChosen} legend="Roles" />
      <div className="row">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Creating…" : "Create user"}
        </button>
      </div>
      <Notice message={message} />
    </form>
  );
}

/** Per user: enable or disable (PATCH), replace roles (PUT .../roles), set a new password (PATCH). */
export function UserActions({ user, roles, isSelf }: { user: User; roles: string[]; isSelf: boolean }) {
  const router = useRouter();
  const [chosen, setChosen] = useState(user.roles);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<Message>(null);
  const path = `users/${encodeURIComponent(user.id)}`;

  async function run(work: () => Promise<{ ok: true; value: User } | { ok: false; message: string }>, done: string) {
    setBusy(true);
    setMessage(null);
    const reply = await work();
    setBusy(false);
    if (!reply.ok) {
      setMessage({ tone: "error", text: reply.message });
      return false;
    }
    setMessage({ tone: "info", text: done });
    router.refresh();
    return true;
  }

  async function saveRoles(event: FormEvent) {
    event.preventDefault();
    await run(
      () => callFromBrowser<User>("analytics", `${path}/roles`, { method: "PUT", json: { roles: chosen } satisfies RoleAssignment }),
      `Roles saved. ${user.username} logs in again to use them.`,
    );
  }

  async function savePassword(event: FormEvent) {
    event.preventDefault();
    if (password.length < MIN_PASSWORD_LENGTH) {
      setMessage({ tone: "error", text: `The password needs at least ${MIN_PASSWORD_LENGTH} characters.` });
      return;
    }
    if (await run(() => callFromBrowser<User>("analytics", path, { method: "PATCH", json: { password } satisfies UserChange }), "Password set; their sessions have ended.")) {
      setPassword("");
    }
  }

  return (
    <details>
      <summary>Change {user.username}</summary>
      <div className="stack" style={{ paddingTop: "0.5rem", whiteSpace: "normal" }}>
        <div className="row">
          <button
            type="button"
            className={user.is_active ? "button button-small button-danger" : "button button-small"}
            disabled={busy || (isSelf && user.is_active)}
            title={isSelf && user.is_active ? "You cannot disable yourself" : undefined}
            onClick={() =>
              run(
                () => callFromBrowser<User>("analytics", path, { method: "PATCH", json: { is_active: !user.is_active } satisfies UserChange }),
                user.is_active ? `${user.username} is disabled; their sessions have ended.` : `${user.username} is enabled.`,
              )
            }
          >
            {user.is_active ? "Disable" : "Enable"}
          </button>
        </div>
        <form className="stack" onSubmit={saveRoles}>
          <RoleChecks roles={roles} chosen={chosen} onChange={setChosen} legend={`Roles of ${user.username}`} />
          <div>
            <button type="submit" className="button button-small" disabled={busy}>
              Save roles
            </button>
          </div>
        </form>
        <form className="row" onSubmit={savePassword}>
          <label className="field">
            <span>New password</span>
            <input type="password" value={password} onChange={(event) => setPassword(event.target.value)} autoComplete="new-password" />
          </label>
          <button type="submit" className="button button-small" disabled={busy}>
            Set password
          </button>
        </form>
        <Notice message={message} />
      </div>
    </details>
  );
}
