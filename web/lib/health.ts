/** Live status of the platform's HTTP services, from their public /health endpoints. */

import { SERVICE_LABELS, publicServiceUrl, serviceUrl, type ServiceName } from "./config";
import type { Health } from "./types";

export interface ServiceStatus {
  service: ServiceName;
  label: string;
  state: "up" | "degraded" | "down";
  summary: string;
  checks: { name: string; status: string; latencyMs: number | null }[];
  docsUrl: string;
  healthUrl: string;
}

export function summarize(service: ServiceName, health: Health | null, status: number | null): ServiceStatus {
  const base = publicServiceUrl(service);
  const common = { service, label: SERVICE_LABELS[service], docsUrl: `${base}/docs`, healthUrl: `${base}/health` };
  if (health === null) {
    return { ...common, state: "down", summary: status === null ? "Not reachable" : `Answered ${status}`, checks: [] };
  }
  const checks = Object.entries(health.checks ?? {}).map(([name, check]) => ({
    name,
    status: check.status,
    latencyMs: typeof check.latency_ms === "number" ? check.latency_ms : null,
  }));
  const failing = checks.filter((check) => check.status !== "ok").map((check) => check.name);
  if (health.status === "ok" && failing.length === 0) return { ...common, state: "up", summary: "Up", checks };
  return { ...common, state: "degraded", summary: failing.length ? `Cannot reach ${failing.join(", ")}` : "Degraded", checks };
}

export async function serviceStatus(service: ServiceName): Promise<ServiceStatus> {
  try {
    const response = await fetch(`${serviceUrl(service)}/health`, { cache: "no-store", signal: AbortSignal.timeout(4000) });
    let body: Health | null = null;
    try {
      body = (await response.json()) as Health;
    } catch {
      body = null;
    }
    return summarize(service, body && typeof body === "object" && "checks" in body ? body : null, response.status);
  } catch {
    return summarize(service, null, null);
  }
}
