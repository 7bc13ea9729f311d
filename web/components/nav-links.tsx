"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

import { isCurrent, type Section } from "@/lib/navigation";

export function NavLinks({ sections }: { sections: Pick<Section, "href" | "label">[] }) {
  const pathname = usePathname();
  return (
    <ul className="nav-links">
      {sections.map((section) => {
        const current = isCurrent(section.href, pathname);
        return (
          <li key={section.href}>
            <Link href={section.href} aria-current={current ? "page" : undefined} className="nav-link">
              {section.label}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
