"use client";

import { useEffect } from "react";

/** Whatever a page could not handle: a message and a way to try again, never a stack trace. */
export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <section className="stack">
      <h1>Something went wrong</h1>
      <p role="alert" className="notice notice-error">
        This page could not be shown. {error.digest ? `(Reference ${error.digest}.)` : null}
      </p>
      <div>
        <button type="button" className="button button-primary" onClick={reset}>
          Try again
        </button>
      </div>
    </section>
  );
}
