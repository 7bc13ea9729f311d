/** What the login form says when logging in fails. */

import { ApiError, ServiceUnavailableError } from "./problem";

export function loginErrorMessage(error: unknown): string {
  if (error instanceof ServiceUnavailableError) return error.message;
  if (error instanceof ApiError) {
    if (error.status === 401) return "Wrong username or password.";
    if (error.status === 422) return "Enter your username and password.";
    return error.message;
  }
  return "Logging in failed. Try again.";
}
