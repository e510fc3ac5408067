import { useEffect } from "react";
import { Link } from "react-router";

/** A page that does not exist, or a course or item that is not here: a page of its own, never an error. */
export function NotFound({ title = "This page doesn't exist" }: { title?: string }) {
  useEffect(() => {
    document.title = "Not found · Lyceum";
  }, []);
  return (
    <section className="empty-state not-found" aria-labelledby="not-found-title" data-testid="not-found">
      <h1 id="not-found-title">{title}</h1>
      <p>
        The link may be old. Go to <Link to="/learning">My learning</Link> or browse the{" "}
        <Link to="/catalog">catalogue</Link>.
      </p>
    </section>
  );
}
