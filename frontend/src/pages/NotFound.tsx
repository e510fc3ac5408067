import { Link } from "react-router";

import { EmptyState } from "../components/Status";

export function NotFound() {
  return (
    <EmptyState title="This page doesn't exist">
      <p>
        The link may be old. Go to <Link to="/learning">My learning</Link> or browse the{" "}
        <Link to="/catalog">catalogue</Link>.
      </p>
    </EmptyState>
  );
}
