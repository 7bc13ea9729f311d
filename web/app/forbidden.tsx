import Link from "next/link";

export default function Forbidden() {
  return (
    <main className="content stack">
      <h1>Not allowed</h1>
      <p className="notice notice-error" role="alert">
        Your role does not give you access to this page. Ask an administrator if you need it.
      </p>
      <p>
        <Link href="/">Back to the home page</Link>
      </p>
    </main>
  );
}
