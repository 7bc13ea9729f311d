/** Users, roles and the audit log of the Analytics API, and the audit page's filters. */

import type { components } from "./api/analytics";

export type User = components["schemas"]["UserReply"];
export type UserList = components["schemas"]["Listing_UserReply_"];
export type Role = components["schemas"]["RoleReply"];
export type RoleList = components["schemas"]["Listing_RoleReply_"];
export type AuditRecord = components["schemas"]["AuditRecordReply"];
export type AuditList = components["schemas"]["Listing_AuditRecordReply_"];
export type NewUser = components["schemas"]["NewUser"];
export type UserChange = components["schemas"]["UserChange"];
export type RoleAssignment = components["schemas"]["RoleAssignment"];
export type NewRole = components["schemas"]["NewRole"];
export type RoleChange = components["schemas"]["RoleChange"];

/** Every permission a role can grant (security/permissions.py). */
export const PERMISSIONS = [
  "datasets:read",
  "datasets:write",
  "metrics:read",
  "metrics:write",
  "queries:run",
  "dashboards:read",
  "dashboards:write",
  "phi:read",
  "models:read",
  "models:train",
  "models:predict",
  "jobs:run",
  "users:manage",
  "audit:read",
] as const;

export const OUTCOMES = ["success", "failure", "denied"] as const;
export const MIN_PASSWORD_LENGTH = 12;

export interface AuditFilters {
  user: string;
  action: string;
  dataset: string;
  outcome: string;
  since: string;
  until: string;
  phi: "" | "true" | "false";
  offset: number;
}

export const AUDIT_PAGE = 50;

type Params = Record<string, string | string[] | undefined>;

function first(params: Params, key: string): string {
  const value = params[key];
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? "";
}

/** The audit page's filters from its URL, cleaned of what the API would refuse. */
export function auditFilters(params: Params): AuditFilters {
  const phi = first(params, "phi");
  const outcome = first(params, "outcome");
  const offset = Number(first(params, "offset"));
  const date = (key: string) => {
    const value = first(params, key);
    return /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/.test(value) ? value : "";
  };
  return {
    user: first(params, "user").slice(0, 128),
    action: first(params, "action").slice(0, 63),
    dataset: first(params, "dataset").slice(0, 63),
    outcome: (OUTCOMES as readonly string[]).includes(outcome) ? outcome : "",
    since: date("since"),
    until: date("until"),
    phi: phi === "true" || phi === "false" ? phi : "",
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

/** The query the API takes for these filters; empty ones are left out. */
export function auditQuery(filters: AuditFilters): Record<string, string | number> {
  const query: Record<string, string | number> = { limit: AUDIT_PAGE, offset: filters.offset };
  for (const key of ["user", "action", "dataset", "outcome", "since", "until", "phi"] as const) {
    if (filters[key] !== "") query[key] = filters[key];
  }
  return query;
}

/** The URL of another page of the same filters. */
export function auditPageHref(filters: AuditFilters, offset: number): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(auditQuery({ ...filters, offset }))) {
    if (key === "limit" || (key === "offset" && value === 0)) continue;
    params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `/admin/audit?${search}` : "/admin/audit";
}

/** A username the API takes: 1 to 128 lowercase letters, digits and _ . @ -, starting with a letter or digit. */
export function usernameProblem(username: string): string | null {
  if (username === "") return "Give a username.";
  if (!/^[a-z0-9][a-z0-9_.@-]{0,127}$/.test(username)) {
    return "Use lowercase letters, digits and _ . @ - only, starting with a letter or a digit.";
  }
  return null;
}
