/** Writing the session cookie: httpOnly, SameSite=Lax, as long-lived as the token. */

import type { components } from "./api/analytics";
import { secureCookies } from "./config";
import { SESSION_COOKIE } from "./session";

export interface CookieSpec {
  name: string;
  value: string;
  options: { httpOnly: true; sameSite: "lax"; secure: boolean; path: "/"; maxAge: number };
}

export function sessionCookie(token: string, expiresIn: number): CookieSpec {
  return {
    name: SESSION_COOKIE,
    value: token,
    options: { httpOnly: true, sameSite: "lax", secure: secureCookies(), path: "/", maxAge: Math.max(1, expiresIn) },
  };
}

export type TokenReply = components["schemas"]["TokenReply"];
export type LoginRequest = components["schemas"]["LoginRequest"];
