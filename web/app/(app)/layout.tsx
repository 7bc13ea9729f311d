import Link from "next/link";
import { forbidden, notFound } from "next/navigation";
import { Suspense, type ReactNode } from "react";

import { NavLinks } from "@/components/nav-links";
import { ErrorNotice } from "@/components/error-notice";
import { PurposePicker } from "@/components/purpose-picker";
import { apiGetOnce, currentPath, currentUser, sessionPurpose, settle } from "@/lib/api";
import { visibleSections } from "@/lib/navigation";
import { pageAllowed } from "@/lib/page-access";
import { isMissing } from "@/lib/problem";
import { subjectOf } from "@/lib/subject";

import { logOut } from "../login/actions";

export default async function AppLayout({ children }: { children: ReactNode }) {
  const me = await settle(currentUser());
  if (!me.ok) {
    return (
      <main id="main" className="content stack">
        <h1>BI-Agent</h1>
        <ErrorNotice error={me.error} />
        <form action={logOut}>
          <button type="submit" className="button">
            Log out
          </button>
        </form>
      </main>
    );
  }
  const user = me.value;
  // Checked here, before the loading screen streams, so a page the user may not open answers HTTP 403
  // and a page about a dataset, model or dashboard that does not exist answers HTTP 404.
  const path = await currentPath();
  if (!pageAllowed(path, user.permissions)) forbidden();
  const subject = subjectOf(path);
  if (subject !== null) {
    const found = await settle(apiGetOnce(subject.service, subject.path));
    if (!found.ok && isMissing(found.error)) notFound();
  }
  const sections = visibleSections(user.permissions).map(({ href, label }) => ({ href, label }));
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand">
          BI-Agent
        </Link>
        <nav aria-label="Main">
          <NavLinks sections={sections} />
        </nav>
        {user.hipaa_mode ? (
          <Suspense fallback={null}>
            <PurposePicker current={await sessionPurpose()} />
          </Suspense>
        ) : null}
        <form action={logOut} className="user-menu">
          <span className="muted" title={user.roles.join(", ")}>
            {user.username}
          </span>
          <button type="submit" className="button button-small">
            Log out
          </button>
        </form>
      </header>
      <main id="main" className="content">
        {children}
      </main>
    </>
  );
}
