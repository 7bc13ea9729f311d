/** The web server's own liveness, for the container healthcheck: touches no other service. */

export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok", service: "BI-Agent web" });
}
