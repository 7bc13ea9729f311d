/** Where the web server finds the platform's services, read from the environment at request time. */

export type ServiceName = "analytics" | "ml";

export const SERVICE_LABELS: Record<ServiceName, string> = {
  analytics: "Analytics API",
  ml: "ML service",
};

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Base URL the web server uses to reach a service (never sent to the browser). */
export function serviceUrl(service: ServiceName): string {
  const fallback = service === "analytics" ? "http://127.0.0.1:3000" : "http://127.0.0.1:8000";
  const configured = service === "analytics" ? env("ANALYTICS_API_URL") : env("ML_SERVICE_URL");
  return stripSlash(configured ?? fallback);
}

/** Base URL a browser uses for a service's docs; defaults to the server's own address. */
export function publicServiceUrl(service: ServiceName): string {
  const configured = service === "analytics" ? env("ANALYTICS_API_PUBLIC_URL") : env("ML_SERVICE_PUBLIC_URL");
  return stripSlash(configured ?? serviceUrl(service));
}

export interface ToolLink {
  name: string;
  url: string;
  description: string;
}

/** Observability and storage consoles, shown only where their URL is configured. */
export function toolLinks(): ToolLink[] {
  const tools: [string, string, string][] = [
    ["Grafana", "GRAFANA_URL", "Platform dashboards"],
    ["Jaeger", "JAEGER_URL", "Request and task traces"],
    ["Prometheus", "PROMETHEUS_URL", "Metrics and alerts"],
    ["MinIO console", "MINIO_CONSOLE_URL", "Buckets: models, datasets, logs"],
  ];
  return tools.flatMap(([name, variable, description]) => {
    const url = env(variable);
    return url === undefined ? [] : [{ name, url: stripSlash(url), description }];
  });
}

/** Cookies carry the `Secure` flag when the site is served over HTTPS. */
export function secureCookies(): boolean {
  return env("WEB_COOKIE_SECURE") === "true";
}
