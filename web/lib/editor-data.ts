/** What the dashboard editor needs from the API: the metrics to pick from and the roles to share with. */

import { api, settle, type Settled } from "./api";
import type { RoleList } from "./admin";
import type { Metric, Page } from "./types";

export interface EditorData {
  metrics: Metric[];
  roles: string[];
}

export async function loadEditorData(): Promise<Settled<EditorData>> {
  const [metrics, roles] = await Promise.all([
    settle(api<Page<Metric>>("analytics", "/api/v1/metrics", { query: { limit: 500 } })),
    settle(api<RoleList>("analytics", "/api/v1/roles")),
  ]);
  if (!metrics.ok) return metrics;
  // Listing roles needs users:manage; others share with the built-in roles.
  const names = roles.ok ? roles.value.items.map((role) => role.name) : ["admin", "analyst", "viewer"];
  return { ok: true, value: { metrics: metrics.value.items, roles: names } };
}
