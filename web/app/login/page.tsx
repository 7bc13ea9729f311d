import type { Metadata } from "next";

import { safeNext } from "@/lib/session";

import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Log in" };

type Search = Promise<{ next?: string | string[]; reason?: string | string[] }>;

export default async function LoginPage({ searchParams }: { searchParams: Search }) {
  const params = await searchParams;
  const next = safeNext(typeof params.next === "string" ? params.next : undefined);
  const expired = params.reason === "expired";
  return (
    <main className="login">
      <div className="card login-card">
        <h1>BI-Agent</h1>
        <p className="muted">Log in to see your dashboards, data and models.</p>
        {expired ? (
          <p role="status" className="notice notice-info">
            Your session has ended. Log in again to continue.
          </p>
        ) : null}
        <LoginForm next={next} />
      </div>
    </main>
  );
}
