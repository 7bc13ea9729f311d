"use server";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import { loginErrorMessage } from "@/lib/login-errors";
import { callService } from "@/lib/service-client";
import { SESSION_COOKIE, safeNext } from "@/lib/session";
import { sessionCookie, type TokenReply } from "@/lib/session-cookie";

export interface LoginState {
  error: string | null;
  username: string;
}

export async function logIn(_previous: LoginState, form: FormData): Promise<LoginState> {
  const username = String(form.get("username") ?? "").trim();
  const password = String(form.get("password") ?? "");
  if (!username || !password) return { error: "Enter your username and password.", username };
  let reply: TokenReply;
  try {
    reply = await callService<TokenReply>("analytics", "/api/v1/auth/login", {
      method: "POST",
      json: { username, password },
      timeoutMs: 15_000,
    });
  } catch (error) {
    return { error: loginErrorMessage(error), username };
  }
  const cookie = sessionCookie(reply.access_token, reply.expires_in);
  (await cookies()).set(cookie.name, cookie.value, cookie.options);
  redirect(safeNext(String(form.get("next") ?? "/")));
}

export async function logOut(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
  redirect("/login");
}
