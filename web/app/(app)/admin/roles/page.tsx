import type { Metadata } from "next";

import { CreateRoleForm, RoleActions } from "@/components/admin/role-forms";
import { EmptyState, ErrorNotice } from "@/components/error-notice";
import type { RoleList } from "@/lib/admin";
import { api, requirePermission, settle } from "@/lib/api";

import { AdminNav } from "../admin-nav";

export const metadata: Metadata = { title: "Roles" };

export default async function RolesPage() {
  const me = await requirePermission("users:manage");
  const roles = await settle(api<RoleList>("analytics", "/api/v1/roles"));
  return (
    <div className="stack">
      <AdminNav user={me} current="roles" />
      <h1>Roles</h1>
      <section className="card stack" aria-labelledby="role-list">
        <h2 id="role-list">All roles</h2>
        {!roles.ok ? (
          <ErrorNotice error={roles.error} title="The roles could not be loaded" />
        ) : roles.value.items.length === 0 ? (
          <EmptyState>No roles.</EmptyState>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Roles">
            <table className="stack-table" data-testid="roles-table">
              <caption className="sr-only">Roles and their permissions</caption>
              <thead>
                <tr>
                  <th scope="col">Role</th>
                  <th scope="col" className="wrap">
                    Description
                  </th>
                  <th scope="col" className="wrap">
                    Permissions
                  </th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {roles.value.items.map((role) => (
                  <tr key={role.name} style={{ verticalAlign: "top" }}>
                    <th scope="row">
                      {role.name} {role.built_in ? <span className="badge">built in</span> : null}
                    </th>
                    <td data-label="Description" className="wrap">{role.description || "—"}</td>
                    <td data-label="Permissions" className="wrap small">{role.permissions.join(", ") || "none"}</td>
                    <td data-label="Change" className="wrap">{role.built_in ? <span className="muted small">fixed</span> : <RoleActions role={role} />}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card stack" aria-labelledby="new-role">
        <h2 id="new-role">New role</h2>
        <CreateRoleForm />
      </section>
    </div>
  );
}
