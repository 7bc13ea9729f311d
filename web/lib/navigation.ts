/** The app's sections and the permission each needs; the nav hides what a user may not open. */

export interface Section {
  href: string;
  label: string;
  /** Any one of these permissions opens the section; none listed means every signed-in user. */
  anyOf: string[];
}

export const SECTIONS: Section[] = [
  { href: "/", label: "Home", anyOf: [] },
  { href: "/dashboards", label: "Dashboards", anyOf: ["dashboards:read"] },
  { href: "/explore", label: "Explore", anyOf: ["queries:run"] },
  { href: "/datasets", label: "Datasets", anyOf: ["datasets:read"] },
  { href: "/models", label: "Models", anyOf: ["models:read"] },
  { href: "/jobs", label: "Jobs", anyOf: ["jobs:run"] },
  { href: "/admin", label: "Admin", anyOf: ["users:manage", "audit:read"] },
];

export function visibleSections(permissions: readonly string[]): Section[] {
  return SECTIONS.filter((section) => section.anyOf.length === 0 || section.anyOf.some((p) => permissions.includes(p)));
}

/** Whether a nav link is the current section: Home only on "/", the others on their subtree. */
export function isCurrent(href: string, pathname: string): boolean {
  if (href === "/") return pathname === "/";
  return pathname === href || pathname.startsWith(`${href}/`);
}
