/** Server-side API access for pages: the session's token, and a trip to the login page when it has ended. */

import { cookies, headers } from "next/headers";
import { cache } from "react";
import { forbidden, redirect, unstable_rethrow } from "next/navigation";

import type { ServiceName } from "./config";
import { ApiError } from "./problem";
import { PURPOSE_COOKIE, PURPOSE_HEADER } from "./purpose";
import { callService, type CallOptions } from "./request";
import { PATH_HEADER, SESSION_COOKIE, loginPath } from "./session";
import type { Me } from "./types";

/** The page being rendered, as the proxy recorded it, for the way back after a login. */
export async function currentPath(): Promise<string> {
  return (await headers()).get(PATH_HEADER) ?? "/";
}

export async function sessionToken(): Promise<string | null> {
  return (await cookies()).get(SESSION_COOKIE)?.value ?? null;
}

/** The purpose of use the user stated for this browser session (HIPAA mode), if any. */
export async function sessionPurpose(): Promise<string | null> {
  return (await cookies()).get(PURPOSE_COOKIE)?.value ?? null;
}

async function toLogin(): Promise<never> {
  redirect(loginPath(await currentPath(), "expired"));
}

/** Call a service as the signed-in user; a 401 sends the user to log in and then back here. */
export async function api<T>(service: ServiceName, path: string, options: Omit<CallOptions, "token"> = {}): Promise<T> {
  const token = await sessionToken();
  if (token === null) return toLogin();
  const purpose = await sessionPurpose();
  const headers = purpose === null ? options.headers : { ...options.headers, [PURPOSE_HEADER]: purpose };
  try {
    return await callService<T>(service, path, { ...options, headers, token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return toLogin();
    throw error;
  }
}

const getOnce = cache((service: ServiceName, path: string): Promise<unknown> => api<unknown>(service, path));

/** A GET asked once per request however many components need it: the layout's check that a page's
 * subject exists (lib/subject.ts) and the page's own read of it are one call to the API. */
export function apiGetOnce<T>(service: ServiceName, path: string): Promise<T> {
  return getOnce(service, path) as Promise<T>;
}

/** The signed-in user; asked once per request however many components need it. */
export const currentUser = cache(async (): Promise<Me> => api<Me>("analytics", "/api/v1/me"));

export function can(user: Me, permission: string): boolean {
  return user.permissions.includes(permission);
}

/** Server-side guard: a page that needs a permission answers "not allowed" to others. */
export async function requirePermission(permission: string): Promise<Me> {
  const user = await currentUser();
  if (!can(user, permission)) forbidden();
  return user;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs an API call for a part of a page, keeping its error to show in place; redirects still happen. */
export async function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    unstable_rethrow(error);
    return { ok: false, error };
  }
}
