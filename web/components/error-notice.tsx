import type { ReactNode } from "react";

import { errorMessage } from "@/lib/problem";

/** An API error in plain words, in place of the part of the page that needed the answer. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  return (
    <div role="alert" className="notice notice-error">
      {title ? <strong>{title}: </strong> : null}
      {errorMessage(error)}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
