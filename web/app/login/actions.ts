"use server";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";

import { secureCookies } from "@/lib/config";
import { loginErrorMessage } from "@/lib/login-errors";
import { PURPOSE_COOKIE, checkPurpose, purposeCookie } from "@/lib/purpose";
import { callService } from "@/lib/request";
import { SESSION_COOKIE, safeNext } from "@/lib/session";
import { sessionCookie, type LoginRequest, type TokenReply } from "@/lib/session-cookie";

export interface LoginState {
  error: string | null;
  username: string;
}

export async function logIn(_previous: LoginState, form: FormData): Promise<LoginState> {
  const username = String(form.get("username") ?? "").trim();
  const password = String(form.get("password") ?? "");
  if (!username || !password) return { error: "Enter your username and password.", username };
  // The browser's address as Next.js saw it: the API believes it from the web alone
  // (FORWARDED_ALLOW_IPS) and limits failed logins by it, so one browser's failures hold up no other.
  const forwardedFor = (await headers()).get("x-forwarded-for");
  let reply: TokenReply;
  try {
    reply = await callService<TokenReply>("analytics", "/api/v1/auth/login", {
      method: "POST",
      json: { username, password } satisfies LoginRequest,
      headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : undefined,
      timeoutMs: 15_000,
    });
  } catch (error) {
    return { error: loginErrorMessage(error), username };
  }
  const cookie = sessionCookie(reply.access_token, reply.expires_in);
  (await cookies()).set(cookie.name, cookie.value, cookie.options);
  redirect(safeNext(String(form.get("next") ?? "/")));
}

/**
 * Ends the session at the API, so the token is refused even if it was copied, then forgets it here.
 * An API that cannot be reached (or a token already ended) does not keep the user signed in: the
 * cookie goes either way, and the token then lives only until it expires.
 */
export async function logOut(): Promise<void> {
  const jar = await cookies();
  const token = jar.get(SESSION_COOKIE)?.value;
  if (token) {
    try {
      await callService<void>("analytics", "/api/v1/auth/logout", { method: "POST", token, timeoutMs: 5_000 });
    } catch {
      // Signing out here must not fail on the API: the cookie is deleted below all the same.
    }
  }
  jar.delete(SESSION_COOKIE);
  jar.delete(PURPOSE_COOKIE);
  redirect("/login");
}

export interface PurposeState {
  error: string | null;
}

/** States the purpose of use for the rest of this browser session, then reloads the page it was stated on. */
export async function setPurpose(_previous: PurposeState, form: FormData): Promise<PurposeState> {
  const chosen = String(form.get("purpose") ?? "");
  const checked = checkPurpose(chosen === "other" ? String(form.get("other") ?? "") : chosen);
  if ("error" in checked) return { error: checked.error };
  const cookie = purposeCookie(checked.value, secureCookies());
  (await cookies()).set(cookie.name, cookie.value, cookie.options);
  redirect(safeNext(String(form.get("next") ?? "/")));
}
