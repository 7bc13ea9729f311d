import Link from "next/link";

export default function NotFound() {
  return (
    <main className="content stack">
      <h1>Not found</h1>
      <p>There is nothing at this address, or you may not see it.</p>
      <p>
        <Link href="/">Back to the home page</Link>
      </p>
    </main>
  );
}
