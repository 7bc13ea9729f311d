import type { Metadata } from "next";

import { toolLinks } from "@/lib/config";
import { serviceStatus, type ServiceStatus } from "@/lib/health";

export const metadata: Metadata = { title: "Home" };
export const dynamic = "force-dynamic";

function StatusCard({ status }: { status: ServiceStatus }) {
  const badge = status.state === "up" ? "badge badge-ok" : "badge badge-down";
  return (
    <article className="card stack" aria-labelledby={`svc-${status.service}`} data-service={status.service}>
      <div className="spread">
        <h2 id={`svc-${status.service}`}>{status.label}</h2>
        <span className={badge} data-testid={`status-${status.service}`}>
          {status.summary}
        </span>
      </div>
      {status.checks.length > 0 ? (
        <ul className="small muted" aria-label={`${status.label} dependencies`}>
          {status.checks.map((check) => (
            <li key={check.name}>
              {check.name}: {check.status}
              {check.latencyMs !== null ? ` (${check.latencyMs.toFixed(1)} ms)` : ""}
            </li>
          ))}
        </ul>
      ) : null}
      <p className="row small">
        <a href={status.docsUrl} target="_blank" rel="noreferrer">
          API docs
        </a>
        <a href={status.healthUrl} target="_blank" rel="noreferrer">
          Health
        </a>
      </p>
    </article>
  );
}

export default async function HomePage() {
  const statuses = await Promise.all([serviceStatus("analytics"), serviceStatus("ml")]);
  const tools = toolLinks();
  return (
    <div className="stack">
      <h1>Platform</h1>
      <section aria-label="Services" className="cards">
        {statuses.map((status) => (
          <StatusCard key={status.service} status={status} />
        ))}
      </section>
      <section className="stack" aria-labelledby="tools">
        <h2 id="tools">Observability and storage</h2>
        {tools.length === 0 ? (
          <p className="empty">
            No consoles configured. Set GRAFANA_URL, JAEGER_URL, PROMETHEUS_URL or MINIO_CONSOLE_URL to link them here.
          </p>
        ) : (
          <ul className="cards" style={{ listStyle: "none", padding: 0 }}>
            {tools.map((tool) => (
              <li key={tool.name} className="card">
                <a href={tool.url} target="_blank" rel="noreferrer">
                  {tool.name}
                </a>
                <p className="small muted">{tool.description}</p>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
