/** The purpose of use (HIPAA mode): said once per browser session, sent as X-Purpose with every API call.
 * A code, never patient details: the API records it in its audit log beside each read of PHI. */

export const PURPOSE_COOKIE = "bi_purpose";
export const PURPOSE_HEADER = "x-purpose";

/** The common ones (treatment, payment, health care operations); anything else is a ticket or a code. */
export const PURPOSES = [
  { value: "TREAT", label: "Treatment" },
  { value: "PAYMENT", label: "Payment" },
  { value: "OPERATIONS", label: "Health care operations" },
] as const;

const ALLOWED = /^[A-Za-z0-9][A-Za-z0-9 _.:#/-]{0,63}$/;

/** The purpose as sent, or the reason it cannot be: short, plain characters, so no free text (and no PHI) slips in. */
export function checkPurpose(raw: string): { value: string } | { error: string } {
  const value = raw.trim();
  if (value === "") return { error: "Choose a purpose of use, or enter a ticket number." };
  if (!ALLOWED.test(value)) {
    return { error: "Use a code or ticket number: up to 64 letters, digits and - _ . : # /, no patient details." };
  }
  return { value };
}

/** The purpose cookie: httpOnly like the session, and ending with the browser session. */
export function purposeCookie(value: string, secure: boolean) {
  return {
    name: PURPOSE_COOKIE,
    value,
    options: { httpOnly: true, sameSite: "lax" as const, secure, path: "/" },
  };
}

/** Whether an API refusal asks for a purpose of use. */
export function needsPurpose(status: number, detail: string): boolean {
  return status === 403 && /X-Purpose/i.test(detail);
}
