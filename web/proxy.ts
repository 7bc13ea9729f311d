/** Every page but the login needs a session: without one (or with an expired one) the browser goes to
 * /login?next=<page>, and comes back after logging in. A token close to its end is refreshed here. */

import { NextResponse, type NextRequest } from "next/server";

import { callService } from "@/lib/request";
import { PATH_HEADER, SESSION_COOKIE, loginPath, needsRefresh, readClaims } from "@/lib/session";
import { sessionCookie, type TokenReply } from "@/lib/session-cookie";

async function refreshed(token: string): Promise<TokenReply | null> {
  try {
    return await callService<TokenReply>("analytics", "/api/v1/auth/refresh", { method: "POST", token, timeoutMs: 5000 });
  } catch {
    // The page's own API call will say what is wrong.
    return null;
  }
}

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const path = request.nextUrl.pathname + request.nextUrl.search;
  const token = request.cookies.get(SESSION_COOKIE)?.value;
  const claims = token ? readClaims(token) : null;
  const now = Date.now() / 1000;
  if (!token || claims === null || claims.exp <= now) {
    const target = new URL(loginPath(path, token ? "expired" : undefined), request.url);
    const response = NextResponse.redirect(target);
    if (token) response.cookies.delete(SESSION_COOKIE);
    return response;
  }
  const forwarded = new Headers(request.headers);
  forwarded.set(PATH_HEADER, path);
  const lifetime = claims.iat === null ? 3600 : claims.exp - claims.iat;
  if (needsRefresh(claims.exp - now, lifetime)) {
    const reply = await refreshed(token);
    if (reply !== null) {
      const cookie = sessionCookie(reply.access_token, reply.expires_in);
      request.cookies.set(SESSION_COOKIE, reply.access_token);
      forwarded.set("cookie", request.cookies.toString());
      const response = NextResponse.next({ request: { headers: forwarded } });
      response.cookies.set(cookie.name, cookie.value, cookie.options);
      return response;
    }
  }
  return NextResponse.next({ request: { headers: forwarded } });
}

export const config = {
  matcher: ["/((?!api/|login|_next/static|_next/image|favicon.ico|robots.txt).*)"],
};
