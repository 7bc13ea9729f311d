/** The session cookie: the API's access token, httpOnly, never readable by page scripts. */

export const SESSION_COOKIE = "bi_session";

/** Request header in which the proxy tells server components which page is being rendered. */
export const PATH_HEADER = "x-bi-path";

export interface TokenClaims {
  sub: string;
  exp: number;
  iat: number | null;
}

function base64UrlDecode(segment: string): string {
  const padded = segment.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (segment.length % 4)) % 4);
  return Buffer.from(padded, "base64").toString("utf8");
}

/** The token's claims, read without checking the signature (the APIs check it); null when unreadable. */
export function readClaims(token: string): TokenClaims | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(parts[1]));
    if (typeof claims !== "object" || claims === null) return null;
    const { sub, exp, iat } = claims as Record<string, unknown>;
    if (typeof sub !== "string" || typeof exp !== "number") return null;
    return { sub, exp, iat: typeof iat === "number" ? iat : null };
  } catch {
    return null;
  }
}

/** Seconds the token has left (negative once expired); null for a token that cannot be read. */
export function secondsLeft(token: string, nowSeconds: number = Date.now() / 1000): number | null {
  const claims = readClaims(token);
  return claims === null ? null : claims.exp - nowSeconds;
}

/** Refresh when less than a third of the lifetime (at most five minutes) is left. */
export function needsRefresh(left: number, lifetime: number): boolean {
  return left > 0 && left < Math.min(300, lifetime / 3);
}

/** A `next` target that stays on this site: a path, never `//host` or a full URL. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login") || next.startsWith("/api/")) return "/";
  return next;
}

export function loginPath(next: string, reason?: "expired"): string {
  const params = new URLSearchParams();
  if (next !== "/") params.set("next", next);
  if (reason) params.set("reason", reason);
  const query = params.toString();
  return query ? `/login?${query}` : "/login";
}
