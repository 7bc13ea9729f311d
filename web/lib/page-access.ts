/** Which permission each page needs, checked in the app layout before anything streams, so a page a user
 * may not open answers HTTP 403 (a check inside the page itself comes after the loading screen has been sent). */

import { SECTIONS } from "./navigation";

export interface PageRule {
  prefix: string;
  /** Any one of these opens the page; none listed means every signed-in user. */
  anyOf: string[];
}

/** Pages inside a section that need more than the section does. */
const PAGE_RULES: PageRule[] = [
  { prefix: "/datasets/upload", anyOf: ["datasets:write"] },
  { prefix: "/models/train", anyOf: ["models:train"] },
  { prefix: "/models/forecast", anyOf: ["queries:run"] },
  { prefix: "/admin/users", anyOf: ["users:manage"] },
  { prefix: "/admin/roles", anyOf: ["users:manage"] },
  { prefix: "/admin/audit", anyOf: ["audit:read"] },
];

function matches(prefix: string, pathname: string): boolean {
  if (prefix === "/") return pathname === "/";
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

/** The rule of the most specific prefix that covers the path, or null for a path no rule names. */
export function ruleFor(path: string): PageRule | null {
  const pathname = path.split(/[?#]/)[0] || "/";
  const rules = [...PAGE_RULES, ...SECTIONS.map(({ href, anyOf }) => ({ prefix: href, anyOf }))];
  const found = rules.filter((rule) => matches(rule.prefix, pathname)).sort((a, b) => b.prefix.length - a.prefix.length);
  return found[0] ?? null;
}

export function pageAllowed(path: string, permissions: readonly string[]): boolean {
  const rule = ruleFor(path);
  return rule === null || rule.anyOf.length === 0 || rule.anyOf.some((permission) => permissions.includes(permission));
}
