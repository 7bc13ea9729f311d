import type { Metadata } from "next";
import Link from "next/link";
import { forbidden } from "next/navigation";

import { can, currentUser } from "@/lib/api";

export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  const user = await currentUser();
  const manage = can(user, "users:manage");
  const audit = can(user, "audit:read");
  if (!manage && !audit) forbidden();
  return (
    <div className="stack">
      <h1>Admin</h1>
      <ul className="cards list-plain">
        {manage ? (
          <>
            <li className="card stack">
              <h2>
                <Link href="/admin/users">Users</Link>
              </h2>
              <p className="small muted">Create users, enable or disable them, set their roles and passwords.</p>
            </li>
            <li className="card stack">
              <h2>
                <Link href="/admin/roles">Roles</Link>
              </h2>
              <p className="small muted">The permissions each role grants; add roles of your own.</p>
            </li>
          </>
        ) : null}
        {audit ? (
          <li className="card stack">
            <h2>
              <Link href="/admin/audit">Audit log</Link>
            </h2>
            <p className="small muted">Who did what and when, to which dataset and columns, and why.</p>
          </li>
        ) : null}
      </ul>
    </div>
  );
}
