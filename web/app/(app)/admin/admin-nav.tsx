import Link from "next/link";

import { can } from "@/lib/api";
import type { Me } from "@/lib/types";

/** Links between the admin pages the user may open; the current one is marked. */
export function AdminNav({ user, current }: { user: Me; current: "users" | "roles" | "audit" }) {
  const links = [
    { key: "users", href: "/admin/users", label: "Users", allowed: can(user, "users:manage") },
    { key: "roles", href: "/admin/roles", label: "Roles", allowed: can(user, "users:manage") },
    { key: "audit", href: "/admin/audit", label: "Audit log", allowed: can(user, "audit:read") },
  ].filter((link) => link.allowed);
  return (
    <nav aria-label="Admin" className="tabs">
      <Link href="/admin" className="nav-link">
        Admin
      </Link>
      {links.map((link) => (
        <Link key={link.key} href={link.href} className="nav-link" aria-current={link.key === current ? "page" : undefined}>
          {link.label}
        </Link>
      ))}
    </nav>
  );
}
