import type { Metadata } from "next";

import { CreateUserForm, UserActions } from "@/components/admin/user-forms";
import { EmptyState, ErrorNotice } from "@/components/error-notice";
import type { RoleList, UserList } from "@/lib/admin";
import { api, requirePermission, settle } from "@/lib/api";
import { formatTime } from "@/lib/jobs";

import { AdminNav } from "../admin-nav";

export const metadata: Metadata = { title: "Users" };

export default async function UsersPage() {
  const me = await requirePermission("users:manage");
  const [users, roles] = await Promise.all([
    settle(api<UserList>("analytics", "/api/v1/users", { query: { limit: 500 } })),
    settle(api<RoleList>("analytics", "/api/v1/roles")),
  ]);
  const roleNames = roles.ok ? roles.value.items.map((role) => role.name) : [];
  return (
    <div className="stack">
      <AdminNav user={me} current="users" />
      <h1>Users</h1>
      {!roles.ok ? <ErrorNotice error={roles.error} title="The roles could not be loaded" /> : null}
      <section className="card stack" aria-labelledby="user-list">
        <h2 id="user-list">All users</h2>
        {!users.ok ? (
          <ErrorNotice error={users.error} title="The users could not be loaded" />
        ) : users.value.items.length === 0 ? (
          <EmptyState>No users.</EmptyState>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Users">
            <table className="stack-table" data-testid="users-table">
              <caption className="sr-only">Users, {users.value.total} in all</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">State</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Last login</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {users.value.items.map((user) => (
                  <tr key={user.id} style={{ verticalAlign: "top" }}>
                    <th scope="row">
                      {user.username}
                      {user.id === me.id ? <span className="muted"> (you)</span> : null}
                    </th>
                    <td data-label="State">
                      <span className={user.is_active ? "badge badge-ok" : "badge badge-down"}>{user.is_active ? "Active" : "Disabled"}</span>
                    </td>
                    <td data-label="Roles">{user.roles.join(", ") || "—"}</td>
                    <td data-label="Last login">{formatTime(user.last_login_at)}</td>
                    <td data-label="Change">
                      <UserActions user={user} roles={roleNames} isSelf={user.id === me.id} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card stack" aria-labelledby="new-user">
        <h2 id="new-user">New user</h2>
        <CreateUserForm roles={roleNames} />
      </section>
    </div>
  );
}
